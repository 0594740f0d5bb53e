// The form of a user task (<spiffworkflow:property name="formJsonSchemaFilename">) and its instructions.
import { SelectEntry, TextAreaEntry } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import {
  MULTI_COMMAND, getExtensionText, getSpiffProperty, setExtensionTextCommands, setSpiffPropertyCommands,
} from '../extensions';

export const FORM_PROPERTY = 'formJsonSchemaFilename';

export function FormEntry(props) {
  const { element, id } = props;
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const translate = useService('translate');
  const catalog = useService('config.regeling') || {};

  const getValue = () => getSpiffProperty(element.businessObject, FORM_PROPERTY);
  const setValue = (value) => {
    const commands = setSpiffPropertyCommands(element, FORM_PROPERTY, value, bpmnFactory);
    if (commands.length) {
      commandStack.execute(MULTI_COMMAND, commands);
    }
  };
  const getOptions = () => {
    const forms = catalog.forms || [];
    const current = getValue();
    const options = [ { value: '', label: translate('(geen formulier)') } ];
    forms.forEach((name) => options.push({ value: name, label: name }));
    if (current && !forms.includes(current)) {
      options.push({ value: current, label: translate('{name} (bestaat niet)', { name: current }) });
    }
    return options;
  };

  return SelectEntry({
    element, id, getValue, setValue, getOptions,
    label: translate('Formulier'),
    description: translate('Het formulier dat deze rol invult (forms/…schema.json).'),
  });
}

export function InstructionsEntry(props) {
  const { element, id } = props;
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const translate = useService('translate');
  const debounce = useService('debounceInput');
  const type = 'spiffworkflow:InstructionsForEndUser';

  return TextAreaEntry({
    element, id, debounce,
    label: translate('Instructies voor de gebruiker'),
    rows: 3,
    getValue: () => getExtensionText(element.businessObject, type, 'text'),
    setValue: (value) => {
      const commands = setExtensionTextCommands(element, type, 'text', value, bpmnFactory);
      if (commands.length) {
        commandStack.execute(MULTI_COMMAND, commands);
      }
    },
  });
}
