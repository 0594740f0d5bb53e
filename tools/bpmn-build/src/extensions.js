// Reading and writing the SpiffWorkflow extension elements our engine reads, without touching any other
// extension element (SpiffArena or Camunda ones we do not model must survive a load/save round trip).
import { is } from 'bpmn-js/lib/util/ModelUtil';

export const MULTI_COMMAND = 'properties-panel.multi-command-executor';

/** The first extension element of `type` on a business object, or undefined. */
export function findExtension(businessObject, type) {
  const extensionElements = businessObject.get('extensionElements');
  const values = (extensionElements && extensionElements.get('values')) || [];
  return values.find((value) => is(value, type));
}

/**
 * Commands that make sure `businessObject` has an extension element of `type`; returns [element, commands].
 * The new elements are created now and linked by the commands, so the whole change is one undo step.
 */
export function ensureExtension(element, businessObject, type, bpmnFactory) {
  const existing = findExtension(businessObject, type);
  if (existing) {
    return [ existing, [] ];
  }
  const commands = [];
  let extensionElements = businessObject.get('extensionElements');
  if (!extensionElements) {
    extensionElements = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
    extensionElements.$parent = businessObject;
    commands.push(updateCommand(element, businessObject, { extensionElements }));
  }
  const created = bpmnFactory.create(type);
  created.$parent = extensionElements;
  commands.push(updateCommand(element, extensionElements, { values: [ ...extensionElements.get('values'), created ] }));
  return [ created, commands ];
}

export function updateCommand(element, moddleElement, properties) {
  return { cmd: 'element.updateModdleProperties', context: { element, moddleElement, properties } };
}

/** The value of <spiffworkflow:property name="…">, or ''. */
export function getSpiffProperty(businessObject, name) {
  const properties = findExtension(businessObject, 'spiffworkflow:Properties');
  const property = properties && properties.get('properties').find((p) => p.get('name') === name);
  return (property && property.get('value')) || '';
}

/** Commands that set (or, with an empty value, remove) <spiffworkflow:property name="…" value="…">. */
export function setSpiffPropertyCommands(element, name, value, bpmnFactory) {
  const businessObject = element.businessObject;
  const existing = findExtension(businessObject, 'spiffworkflow:Properties');
  const current = existing && existing.get('properties').find((p) => p.get('name') === name);
  if (!value) {
    return current ? [ updateCommand(element, existing, { properties: existing.get('properties').filter((p) => p !== current) }) ] : [];
  }
  if (current) {
    return [ updateCommand(element, current, { value }) ];
  }
  const [ properties, commands ] = ensureExtension(element, businessObject, 'spiffworkflow:Properties', bpmnFactory);
  const property = bpmnFactory.create('spiffworkflow:Property', { name, value });
  property.$parent = properties;
  commands.push(updateCommand(element, properties, { properties: [ ...properties.get('properties'), property ] }));
  return commands;
}

/** The body of a one-text extension element (instructionsForEndUser, calledDecisionId), or ''. */
export function getExtensionText(businessObject, type, bodyProperty) {
  const extension = findExtension(businessObject, type);
  return (extension && extension.get(bodyProperty)) || '';
}

/** Commands that set (or, with an empty value, remove) a one-text extension element. */
export function setExtensionTextCommands(element, type, bodyProperty, value, bpmnFactory) {
  const businessObject = element.businessObject;
  const existing = findExtension(businessObject, type);
  if (!value) {
    if (!existing) {
      return [];
    }
    const extensionElements = businessObject.get('extensionElements');
    return [ updateCommand(element, extensionElements, { values: extensionElements.get('values').filter((v) => v !== existing) }) ];
  }
  const [ extension, commands ] = ensureExtension(element, businessObject, type, bpmnFactory);
  commands.push(updateCommand(element, extension, { [bodyProperty]: value }));
  return commands;
}

// -- Python text literals ---------------------------------------------------------------------------------
// The engine reads timer values and notify parameters as Python expressions: "P10D" and 'CCV' with quotes.
// A process owner types P10D and CCV; anything they type with a quote in it is taken as an expression as is.

const LITERAL = /^\s*(?:"([^"\\]*)"|'([^'\\]*)')\s*$/;

/** What the panel shows for an expression: the text of a plain literal, else the expression itself. */
export function literalText(expression) {
  const match = LITERAL.exec(expression || '');
  if (!match) {
    return expression || '';
  }
  return match[1] !== undefined ? match[1] : match[2];
}

/** The expression to store for what was typed: quoted text, unless it already holds a quote. */
export function asExpression(typed, quote = '"') {
  const text = (typed || '').trim();
  if (!text) {
    return '';
  }
  if (/["']/.test(text)) {
    return text;
  }
  return quote + text + quote;
}
