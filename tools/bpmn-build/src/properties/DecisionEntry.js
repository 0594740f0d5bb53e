// The DMN decision a business rule task evaluates: <spiffworkflow:calledDecisionId>.
import { SelectEntry } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { MULTI_COMMAND, getExtensionText, setExtensionTextCommands } from '../extensions';

const TYPE = 'spiffworkflow:CalledDecisionId';

export function DecisionEntry(props) {
  const { element, id } = props;
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const translate = useService('translate');
  const catalog = useService('config.regeling') || {};

  const getValue = () => getExtensionText(element.businessObject, TYPE, 'decisionId').trim();
  return SelectEntry({
    element, id, getValue,
    label: translate('Beslissing (DMN)'),
    description: translate('Het id van een beslissing in een .dmn-bestand van dit proces.'),
    setValue: (value) => {
      const commands = setExtensionTextCommands(element, TYPE, 'decisionId', value, bpmnFactory);
      if (commands.length) {
        commandStack.execute(MULTI_COMMAND, commands);
      }
    },
    getOptions: () => {
      const decisions = (typeof catalog.decisions === 'function' ? catalog.decisions() : catalog.decisions) || [];
      const current = getValue();
      const options = [ { value: '', label: translate('(geen beslissing)') } ];
      decisions.forEach((decision) => options.push({ value: decision.id, label: decision.name ? `${decision.name} (${decision.id})` : decision.id }));
      if (current && !decisions.some((d) => d.id === current)) {
        options.push({ value: current, label: translate('{name} (niet gevonden)', { name: current }) });
      }
      return options;
    },
  });
}
