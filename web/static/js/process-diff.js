/*
 * Diagram diff: the active version and the draft side by side, the element diff computed by the server.
 *
 * Needs (no inline script): vendor/bpmn-js/assets/diagram-js.css, bpmn-js.css, css/editor.css,
 * vendor/bpmn-js/bpmn-navigated-viewer.production.min.js and this file. The page shows the legend
 * (<ul class="diagram-legend"><li class="toegevoegd">…</li>…</ul>, styled in css/editor.css).
 *
 *   <div class="bpmn-diff" data-old-url="…" data-new-url="…" data-diff="diff-1" data-label="regeling.bpmn"></div>
 *   <script type="application/json" id="diff-1">{"toegevoegd": [ids], "verwijderd": [ids], "gewijzigd": [ids]}</script>
 *
 * Added elements are marked in the new diagram, removed ones in the old, changed ones in both. An empty
 * data-old-url (a new file) or data-new-url (a removed file) shows one side only. When both sides are shown and
 * marked, the container gets data-ready="1"; on failure data-error and a short Dutch text. Each pane is one tab
 * stop: the arrow keys pan, + and - zoom, 0 fits the diagram again.
 */
(function () {
  'use strict';

  var KINDS = ['toegevoegd', 'verwijderd', 'gewijzigd'];
  var TEXT = {
    old: 'Actieve versie',
    new: 'Concept',
    none: '(bestaat hier niet)',
    failed: 'De vergelijking kon niet worden getoond.',
  };

  function readDiff(container) {
    var script = document.getElementById(container.dataset.diff || '');
    var diff = script ? JSON.parse(script.textContent || '{}') : {};
    KINDS.forEach(function (kind) {
      var ids = diff[kind] || [];
      if (!Array.isArray(ids) || !ids.every(function (id) { return typeof id === 'string'; })) {
        throw new Error('diff "' + kind + '" is not a list of element ids');
      }
      diff[kind] = ids;
    });
    return diff;
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  function fetchXml(url) {
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/xml, text/xml' } }).then(function (response) {
      if (!response.ok) {
        throw new Error('HTTP ' + response.status + ' for ' + url);
      }
      return response.text();
    });
  }

  /**
   * The shape that draws each model part without a shape of its own: a timer's or message's event
   * definition, a loop, a participant's process. The server names the part that changed (bnd_x_def);
   * the diagram marks its shape (bnd_x).
   */
  function ownersOfParts(registry) {
    var owners = {};
    registry.forEach(function (shape) {
      var bo = shape.businessObject;
      if (!bo || shape.labelTarget) {
        return;
      }
      var parts = (bo.eventDefinitions || []).concat([bo.loopCharacteristics, bo.processRef, bo.ioSpecification]);
      parts.forEach(function (part) {
        if (part && part.id && !registry.get(part.id) && !owners[part.id]) {
          owners[part.id] = shape.id;
        }
      });
    });
    return owners;
  }

  /** Keyboard: the arrow keys pan (Shift: faster), + and - zoom, 0 fits the diagram again. */
  function onKey(event, drawing) {
    if (event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    var step = event.shiftKey ? 200 : 50;
    switch (event.key) {
      case 'ArrowLeft': drawing.scroll({ dx: step }); break;
      case 'ArrowRight': drawing.scroll({ dx: -step }); break;
      case 'ArrowUp': drawing.scroll({ dy: step }); break;
      case 'ArrowDown': drawing.scroll({ dy: -step }); break;
      case '+': case '=': drawing.zoom(drawing.zoom() * 1.2); break;
      case '-': drawing.zoom(drawing.zoom() / 1.2); break;
      case '0': drawing.zoom('fit-viewport', 'auto'); break;
      default: return;
    }
    event.preventDefault();
  }

  function isContainer(shape) {
    var type = shape && shape.businessObject && shape.businessObject.$type;
    return type === 'bpmn:Lane' || type === 'bpmn:Participant' || type === 'bpmn:SubProcess';
  }

  /** One side: a heading and a viewer showing the diagram at `url`, its elements of `marks` marked. */
  function side(panes, title, url, marks, label) {
    var pane = element('div', 'bpmn-diff-paneel');
    pane.appendChild(element('h3', '', title));
    var canvas = element('div', 'bpmn-diff-canvas');
    canvas.setAttribute('role', 'group');  // not img: it holds the bpmn.io link
    canvas.setAttribute('aria-label', title + ': ' + label);
    pane.appendChild(canvas);
    panes.appendChild(pane);
    if (!url) {
      canvas.appendChild(element('p', 'klein', TEXT.none));
      return Promise.resolve();
    }
    var viewer = new window.BpmnJS({ container: canvas });
    return fetchXml(url)
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var registry = viewer.get('elementRegistry');
        var drawing = viewer.get('canvas');
        var owners = ownersOfParts(registry);
        Object.keys(marks).forEach(function (kind) {
          marks[kind].forEach(function (id) {
            var shapeId = registry.get(id) ? id : owners[id];
            if (shapeId) {
              drawing.addMarker(shapeId, 'diff-' + kind);
              if (isContainer(registry.get(shapeId))) {
                drawing.addMarker(shapeId, 'diff-houder');
              }
            }
          });
        });
        var svg = canvas.querySelector('svg');
        if (svg) {
          svg.removeAttribute('tabindex');  // one tab stop: the pane itself
          svg.setAttribute('aria-hidden', 'true');
        }
        canvas.setAttribute('tabindex', '0');
        canvas.addEventListener('keydown', function (event) { onKey(event, drawing); });
        drawing.zoom('fit-viewport', 'auto');
      });
  }

  function render(container) {
    var diff;
    try {
      if (typeof window.BpmnJS !== 'function') {
        throw new Error('bpmn-js is not loaded');
      }
      diff = readDiff(container);
    } catch (error) {
      return Promise.resolve(fail(container, error));
    }
    var label = container.dataset.label || '';
    var panes = element('div', 'bpmn-diff-panelen');
    container.textContent = '';
    container.appendChild(panes);
    return Promise.all([
      side(panes, TEXT.old, container.dataset.oldUrl, { verwijderd: diff.verwijderd, gewijzigd: diff.gewijzigd }, label),
      side(panes, TEXT.new, container.dataset.newUrl, { toegevoegd: diff.toegevoegd, gewijzigd: diff.gewijzigd }, label),
    ]).then(function () {
      container.dataset.ready = '1';
    }, function (error) {
      fail(container, error);
    });
  }

  function fail(container, error) {
    container.dataset.error = (error && error.message) || String(error);
    container.textContent = '';
    container.appendChild(element('p', 'diagram-error', TEXT.failed));
    if (window.console) {
      console.error('process-diff: ' + container.dataset.error);
    }
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll('.bpmn-diff'), render);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
}());
