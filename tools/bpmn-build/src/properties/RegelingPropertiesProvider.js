// Our properties panel groups: what the engine needs from a diagram, editable without XML.
// The standard bpmn-js groups stay (name, id, documentation, …) except the timer group, which stores the
// value as plain ISO text where our engine wants a quoted Python expression; ours replaces it.
import { isSelectEntryEdited, isTextAreaEntryEdited, isTextFieldEntryEdited } from '@bpmn-io/properties-panel';
import { is } from 'bpmn-js/lib/util/ModelUtil';
import { DecisionEntry } from './DecisionEntry';
import { ConditionEntry, DefaultFlowEntry, hasCondition, hasDefaultFlow } from './FlowEntries';
import { FormEntry, InstructionsEntry } from './FormEntries';
import { LaneEntry, isLaneMember, lanesOf } from './LaneEntry';
import { OperatorEntry, RoleParameterEntry, TemplateParameterEntry, isNotify } from './NotifyEntries';
import { TimerKindEntry, TimerValueEntry, timerDefinitionOf } from './TimerEntries';

const REPLACED = [ 'timer' ];

function entry(id, element, component, isEdited) {
  return { id, element, component, isEdited };
}

function groupsFor(element, elementRegistry, translate) {
  const groups = [];
  if (isLaneMember(element) && lanesOf(element, elementRegistry).length) {
    groups.push({ id: 'regeling-lane', label: translate('Rol'), entries: [
      entry('regeling-lane', element, LaneEntry, isSelectEntryEdited),
    ] });
  }
  if (is(element, 'bpmn:UserTask')) {
    groups.push({ id: 'regeling-form', label: translate('Formulier'), entries: [
      entry('regeling-form', element, FormEntry, isSelectEntryEdited),
      entry('regeling-instructions', element, InstructionsEntry, isTextAreaEntryEdited),
    ] });
  }
  if (is(element, 'bpmn:ServiceTask')) {
    const entries = [ entry('regeling-operator', element, OperatorEntry, isSelectEntryEdited) ];
    if (isNotify(element)) {
      entries.push(entry('regeling-notify-role', element, RoleParameterEntry, isSelectEntryEdited));
      entries.push(entry('regeling-notify-template', element, TemplateParameterEntry, isTextFieldEntryEdited));
    }
    groups.push({ id: 'regeling-notify', label: translate('Melding'), entries });
  }
  if (is(element, 'bpmn:BusinessRuleTask')) {
    groups.push({ id: 'regeling-decision', label: translate('Beslissing'), entries: [
      entry('regeling-decision', element, DecisionEntry, isSelectEntryEdited),
    ] });
  }
  if (is(element, 'bpmn:Event') && timerDefinitionOf(element)) {
    groups.push({ id: 'regeling-timer', label: translate('Termijn'), entries: [
      entry('regeling-timer-kind', element, TimerKindEntry, isSelectEntryEdited),
      entry('regeling-timer-value', element, TimerValueEntry, isTextFieldEntryEdited),
    ] });
  }
  if (hasCondition(element)) {
    groups.push({ id: 'regeling-condition', label: translate('Voorwaarde'), entries: [
      entry('regeling-condition', element, ConditionEntry, isTextAreaEntryEdited),
    ] });
  }
  if (hasDefaultFlow(element)) {
    groups.push({ id: 'regeling-default-flow', label: translate('Standaardpad'), entries: [
      entry('regeling-default-flow', element, DefaultFlowEntry, isSelectEntryEdited),
    ] });
  }
  return groups;
}

export default function RegelingPropertiesProvider(propertiesPanel, elementRegistry, translate) {
  this.getGroups = (element) => (groups) => {
    const kept = groups.filter((group) => !REPLACED.includes(group.id));
    const general = kept.findIndex((group) => group.id === 'general');
    kept.splice(general + 1, 0, ...groupsFor(element, elementRegistry, translate));
    return kept;
  };
  // a lower priority than the standard provider (1000): ours runs after it and sees its groups
  propertiesPanel.registerProvider(500, this);
}

RegelingPropertiesProvider.$inject = [ 'propertiesPanel', 'elementRegistry', 'translate' ];
