// Entry of web/static/vendor/bpmn-modeler/bpmn-modeler.js: one IIFE that exposes window.RegelingModeler.
//   RegelingModeler.createModeler({ container, propertiesPanel, catalog: { forms, roles, decisions } })
// `catalog` is read live by the panel: the page may change catalog.decisions after the DMN files load.
import Modeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';
import { is } from 'bpmn-js/lib/util/ModelUtil';
import translate from './dutch';
import KeepUnresolvedReferences from './keepUnresolvedReferences';
import RegelingPropertiesProvider from './properties/RegelingPropertiesProvider';
import spiffworkflow from './spiffworkflow-moddle.json';

import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';

const RegelingModule = {
  __init__: [ 'regelingPropertiesProvider', 'keepUnresolvedReferences' ],
  regelingPropertiesProvider: [ 'type', RegelingPropertiesProvider ],
  keepUnresolvedReferences: [ 'type', KeepUnresolvedReferences ],
  translate: [ 'value', translate ],
};

const OPEN_GROUPS = [
  'general', 'regeling-lane', 'regeling-form', 'regeling-notify', 'regeling-decision', 'regeling-timer',
  'regeling-condition', 'regeling-default-flow', 'documentation',
];

export function createModeler({ container, propertiesPanel, catalog }) {
  const groups = {};
  OPEN_GROUPS.forEach((id) => { groups[id] = { open: true }; });
  return new Modeler({
    container,
    propertiesPanel: { parent: propertiesPanel, layout: { groups } },
    additionalModules: [ BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, RegelingModule ],
    moddleExtensions: { spiffworkflow },
    regeling: catalog || { forms: [], roles: [], decisions: [] },
  });
}

export { Modeler, is };
export const VERSIONS = { 'bpmn-js': '18.31.1', 'bpmn-js-properties-panel': '5.65.3', '@bpmn-io/properties-panel': '3.55.0' };
