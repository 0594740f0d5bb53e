// SpiffWorkflow reads some references as plain names that bpmn-moddle expects to be element ids, e.g.
// <bpmn:loopDataInputRef>aanvaarde_maatregelen</bpmn:loopDataInputRef> names a case data list. bpmn-moddle
// drops such an unresolved reference on import, so saving would silently lose it. Put a placeholder with
// that id back: it is written out as the same text and never becomes part of the diagram.

/** Re-attach every reference an import could not resolve; returns how many. */
export function restoreUnresolvedReferences(warnings, moddle) {
  let restored = 0;
  (warnings || []).forEach((warning) => {
    const { element, property, value } = warning;
    if (!element || !property || !value || !/^unresolved reference/.test(warning.message || '')) {
      return;
    }
    const descriptor = element.$descriptor.propertiesByName[property];
    if (!descriptor || !descriptor.isReference) {
      return;
    }
    const type = descriptor.type === 'bpmn:BaseElement' ? 'bpmn:ItemAwareElement' : descriptor.type;
    const placeholder = moddle.create(type, { id: value });
    if (descriptor.isMany) {
      element.get(property).push(placeholder);
    } else {
      element.set(property, placeholder);
    }
    restored += 1;
  });
  return restored;
}

export default function KeepUnresolvedReferences(eventBus, moddle) {
  eventBus.on('import.done', (event) => {
    restoreUnresolvedReferences(event.warnings, moddle);
  });
}

KeepUnresolvedReferences.$inject = [ 'eventBus', 'moddle' ];
