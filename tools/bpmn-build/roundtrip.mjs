#!/usr/bin/env node
// Usage: node roundtrip.mjs file.bpmn ...  Load and save each file with our moddle descriptor; print what changed.
// Proves that extension elements we do not model (SpiffArena, Camunda) survive a load/save round trip.
import { readFile } from 'node:fs/promises';
import { BpmnModdle } from 'bpmn-moddle';
import { restoreUnresolvedReferences } from './src/keepUnresolvedReferences.js';

const spiffworkflow = JSON.parse(await readFile(new URL('./src/spiffworkflow-moddle.json', import.meta.url), 'utf8'));
const tags = (xml) => (xml.match(/<[a-zA-Z][\w.-]*:[\w.-]+/g) || []).sort();

let failed = false;
for (const file of process.argv.slice(2)) {
  const text = await readFile(file, 'utf8');
  const moddle = new BpmnModdle({ spiffworkflow });
  const { rootElement, warnings } = await moddle.fromXML(text);
  const restored = restoreUnresolvedReferences(warnings, moddle);
  const { xml } = await moddle.toXML(rootElement, { format: true });
  const before = tags(text).join('\n');
  const after = tags(xml).join('\n');
  const same = before === after;
  failed ||= !same || warnings.length > restored;
  console.log(`${file}: ${warnings.length} warning(s), ${restored} reference(s) restored, element tags ${same ? 'kept' : 'CHANGED'}`);
  warnings.forEach((w) => console.log('  ' + w.message));
  if (!same) {
    const a = tags(text), b = tags(xml);
    console.log('  lost:', a.filter((t) => !b.includes(t)), 'gained:', b.filter((t) => !a.includes(t)));
  }
}
process.exit(failed ? 1 : 0);
