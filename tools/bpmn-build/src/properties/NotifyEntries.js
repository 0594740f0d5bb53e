// The `notify` operator of a service task and its parameters (recipient role, e-mail template):
// <spiffworkflow:serviceTaskOperator id="notify"><spiffworkflow:parameters>
//   <spiffworkflow:parameter id="role" type="str" value="'CCV'"/> …
import { SelectEntry, TextFieldEntry } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import {
  MULTI_COMMAND, asExpression, ensureExtension, findExtension, literalText, updateCommand,
} from '../extensions';

const OPERATOR = 'spiffworkflow:ServiceTaskOperator';
export const NOTIFY = 'notify';

export function operatorOf(element) {
  return findExtension(element.businessObject, OPERATOR);
}

export function isNotify(element) {
  const operator = operatorOf(element);
  return !!operator && operator.get('id') === NOTIFY;
}

function parameterOf(operator, name) {
  const list = operator && operator.get('parameterList');
  return list && (list.get('parameters') || []).find((p) => p.get('id') === name);
}

function setParameterCommands(element, name, expression, bpmnFactory) {
  const operator = operatorOf(element);
  const commands = [];
  let list = operator.get('parameterList');
  if (!list) {
    list = bpmnFactory.create('spiffworkflow:Parameters', { parameters: [] });
    list.$parent = operator;
    commands.push(updateCommand(element, operator, { parameterList: list }));
  }
  const current = parameterOf(operator, name);
  if (!expression) {
    if (current) {
      commands.push(updateCommand(element, list, { parameters: list.get('parameters').filter((p) => p !== current) }));
    }
    return commands;
  }
  if (current) {
    commands.push(updateCommand(element, current, { value: expression }));
    return commands;
  }
  const parameter = bpmnFactory.create('spiffworkflow:Parameter', { id: name, type: 'str', value: expression });
  parameter.$parent = list;
  commands.push(updateCommand(element, list, { parameters: [ ...list.get('parameters'), parameter ] }));
  return commands;
}

function run(commandStack, commands) {
  if (commands.length) {
    commandStack.execute(MULTI_COMMAND, commands);
  }
}

export function OperatorEntry(props) {
  const { element, id } = props;
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const translate = useService('translate');

  const getValue = () => {
    const operator = operatorOf(element);
    return operator ? operator.get('id') || '' : '';
  };
  const setValue = (value) => {
    const businessObject = element.businessObject;
    const operator = operatorOf(element);
    if (!value) {
      if (operator) {
        const extensionElements = businessObject.get('extensionElements');
        run(commandStack, [ updateCommand(element, extensionElements, {
          values: extensionElements.get('values').filter((v) => v !== operator),
        }) ]);
      }
      return;
    }
    const [ created, commands ] = ensureExtension(element, businessObject, OPERATOR, bpmnFactory);
    commands.push(updateCommand(element, created, { id: value }));
    run(commandStack, commands);
  };
  const getOptions = () => {
    const options = [ { value: '', label: translate('(geen)') }, { value: NOTIFY, label: translate('notify — bericht aan een rol') } ];
    const current = getValue();
    if (current && current !== NOTIFY) {
      options.push({ value: current, label: translate('{name} (onbekend voor de engine)', { name: current }) });
    }
    return options;
  };

  return SelectEntry({
    element, id, getValue, setValue, getOptions,
    label: translate('Operator'),
    description: translate('De engine kent alleen notify: een e-mail dat er iets te doen is, zonder zaakgegevens.'),
  });
}

export function RoleParameterEntry(props) {
  const { element, id } = props;
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const translate = useService('translate');
  const catalog = useService('config.regeling') || {};

  const getValue = () => {
    const parameter = parameterOf(operatorOf(element), 'role');
    return parameter ? literalText(parameter.get('value')) : '';
  };
  const setValue = (value) => run(commandStack, setParameterCommands(element, 'role', asExpression(value, "'"), bpmnFactory));
  const getOptions = () => {
    const roles = catalog.roles || [];
    const current = getValue();
    const options = [ { value: '', label: translate('(kies een rol)') } ];
    roles.forEach((role) => options.push({ value: role, label: role }));
    if (current && !roles.includes(current)) {
      options.push({ value: current, label: current });
    }
    return options;
  };

  return SelectEntry({
    element, id, getValue, setValue, getOptions,
    label: translate('Ontvanger (rol)'),
  });
}

export function TemplateParameterEntry(props) {
  const { element, id } = props;
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const translate = useService('translate');
  const debounce = useService('debounceInput');

  return TextFieldEntry({
    element, id, debounce,
    label: translate('E-mailsjabloon'),
    description: translate('Naam van een sjabloon in engine/mail_templates, bijvoorbeeld aanmelding_ontvangen.'),
    getValue: () => {
      const parameter = parameterOf(operatorOf(element), 'template');
      return parameter ? literalText(parameter.get('value')) : '';
    },
    setValue: (value) => run(commandStack, setParameterCommands(element, 'template', asExpression(value, "'"), bpmnFactory)),
  });
}
