// Conditions on sequence flows (Python expressions) and the default flow of a gateway or activity.
import { SelectEntry, TextAreaEntry } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { is, isAny } from 'bpmn-js/lib/util/ModelUtil';
import { MULTI_COMMAND, updateCommand } from '../extensions';

const GATEWAYS = [ 'bpmn:ExclusiveGateway', 'bpmn:InclusiveGateway', 'bpmn:ComplexGateway' ];

function sequenceFlowsOut(element) {
  return (element.outgoing || []).filter((flow) => is(flow, 'bpmn:SequenceFlow'));
}

/** A gateway, or an activity that branches (more than one flow out): its flows may carry conditions. */
function branches(element) {
  return isAny(element, GATEWAYS) || (is(element, 'bpmn:Activity') && sequenceFlowsOut(element).length > 1);
}

export function hasCondition(element) {
  if (!is(element, 'bpmn:SequenceFlow') || !element.source) {
    return false;
  }
  return branches(element.source) || !!element.businessObject.get('conditionExpression');
}

export function hasDefaultFlow(element) {
  return branches(element) && sequenceFlowsOut(element).length > 0;
}

function isDefault(flow) {
  const source = flow.source && flow.source.businessObject;
  return !!source && source.get('default') === flow.businessObject;
}

export function ConditionEntry(props) {
  const { element, id } = props;
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const translate = useService('translate');
  const debounce = useService('debounceInput');
  const flow = element.businessObject;

  return TextAreaEntry({
    element, id, debounce,
    rows: 2,
    monospace: true,
    label: translate('Voorwaarde (Python)'),
    description: isDefault(element)
      ? translate('Dit is het standaardpad: het wordt genomen als geen andere voorwaarde klopt.')
      : translate('Bijvoorbeeld: urgent == True of in_aanmerking == "ja". Leeg: altijd.'),
    getValue: () => {
      const condition = flow.get('conditionExpression');
      return (condition && condition.get('body')) || '';
    },
    setValue: (value) => {
      let condition;
      if (value && value.trim()) {
        condition = bpmnFactory.create('bpmn:FormalExpression', { body: value.trim() });
        condition.$parent = flow;
      }
      commandStack.execute(MULTI_COMMAND, [ updateCommand(element, flow, { conditionExpression: condition }) ]);
    },
  });
}

export function DefaultFlowEntry(props) {
  const { element, id } = props;
  const commandStack = useService('commandStack');
  const translate = useService('translate');
  const node = element.businessObject;
  const outgoing = () => sequenceFlowsOut(element);

  const label = (flow) => {
    const bo = flow.businessObject;
    const target = flow.target && flow.target.businessObject;
    const to = target ? (target.get('name') || target.id) : '?';
    return (bo.get('name') ? bo.get('name') + ' → ' : '→ ') + to + ' (' + bo.id + ')';
  };

  return SelectEntry({
    element, id,
    label: translate('Standaardpad'),
    description: translate('Genomen als geen voorwaarde klopt; een standaardpad heeft zelf geen voorwaarde.'),
    getValue: () => {
      const flow = node.get('default');
      return flow ? flow.id : '';
    },
    setValue: (flowId) => {
      const flow = outgoing().find((f) => f.id === flowId);
      const commands = [ updateCommand(element, node, { default: flow ? flow.businessObject : undefined }) ];
      if (flow && flow.businessObject.get('conditionExpression')) {
        commands.push(updateCommand(flow, flow.businessObject, { conditionExpression: undefined }));
      }
      commandStack.execute(MULTI_COMMAND, commands);
    },
    getOptions: () => [ { value: '', label: translate('(geen)') }, ...outgoing().map((flow) => ({ value: flow.id, label: label(flow) })) ],
  });
}
