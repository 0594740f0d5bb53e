// A timer's kind (duration, date, cycle) and its ISO 8601 value, stored the way the engine reads it:
// a Python expression, so P10D is written as "P10D" (see processes/CONVENTIONS.md, "Timers").
import { SelectEntry, TextFieldEntry } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';
import { asExpression, literalText } from '../extensions';

const KINDS = [ 'timeDuration', 'timeDate', 'timeCycle' ];

export function timerDefinitionOf(element) {
  const definitions = getBusinessObject(element).get('eventDefinitions') || [];
  return definitions.find((definition) => is(definition, 'bpmn:TimerEventDefinition'));
}

function kindOf(definition) {
  return KINDS.find((kind) => definition.get(kind)) || '';
}

function expressionOf(definition) {
  const kind = kindOf(definition);
  return kind ? definition.get(kind).get('body') || '' : '';
}

function write(modeling, bpmnFactory, element, definition, kind, expression) {
  const properties = {};
  KINDS.forEach((k) => { properties[k] = undefined; });
  if (kind) {
    const formal = bpmnFactory.create('bpmn:FormalExpression', { body: expression });
    formal.$parent = definition;
    properties[kind] = formal;
  }
  modeling.updateModdleProperties(element, definition, properties);
}

export function TimerKindEntry(props) {
  const { element, id } = props;
  const modeling = useService('modeling');
  const bpmnFactory = useService('bpmnFactory');
  const translate = useService('translate');
  const definition = timerDefinitionOf(element);

  return SelectEntry({
    element, id,
    label: translate('Soort termijn'),
    getValue: () => kindOf(definition),
    setValue: (kind) => write(modeling, bpmnFactory, element, definition, kind, expressionOf(definition)),
    getOptions: () => [
      { value: '', label: translate('(niet ingesteld)') },
      { value: 'timeDuration', label: translate('Duur (bijvoorbeeld P10D, P8W, P3M)') },
      { value: 'timeDate', label: translate('Datum en tijd (bijvoorbeeld 2027-01-01T09:00:00+01:00)') },
      { value: 'timeCycle', label: translate('Herhaling (bijvoorbeeld R3/P1W)') },
    ],
  });
}

export function TimerValueEntry(props) {
  const { element, id } = props;
  const modeling = useService('modeling');
  const bpmnFactory = useService('bpmnFactory');
  const translate = useService('translate');
  const debounce = useService('debounceInput');
  const definition = timerDefinitionOf(element);

  return TextFieldEntry({
    element, id, debounce,
    label: translate('Termijn (ISO 8601)'),
    description: translate('Bijvoorbeeld P10D (10 dagen) of P8W (8 weken). Met aanhalingstekens is het een Python-expressie: "P2D" if urgent else "P10D".'),
    getValue: () => literalText(expressionOf(definition)),
    setValue: (value) => write(modeling, bpmnFactory, element, definition, kindOf(definition) || 'timeDuration', asExpression(value, '"')),
  });
}
