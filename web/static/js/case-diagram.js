/*
 * Case diagram: renders a BPMN diagram with the case's state markers.
 *
 * Needs (no inline script anywhere, so it works under a strict Content-Security-Policy):
 *   <link rel="stylesheet" href="vendor/bpmn-js/assets/diagram-js.css">
 *   <link rel="stylesheet" href="vendor/bpmn-js/assets/bpmn-js.css">
 *   <link rel="stylesheet" href="css/diagram.css">
 *   <script src="vendor/bpmn-js/bpmn-navigated-viewer.production.min.js" defer></script>
 *   <script src="js/case-diagram.js" defer></script>
 *
 * Markup:
 *   <div class="case-diagram" data-bpmn-url="/processes/regeling.bpmn" data-markers="case-markers"
 *        data-label="Procesdiagram van zaak 2024-0001"></div>
 *   <script type="application/json" id="case-markers">
 *     {"done": ["start", "aanmelding"], "active": ["toets_in_aanmerking"], "waiting": [], "cancelled": []}
 *   </script>
 *
 * Every element with data-bpmn-url gets a bpmn-js NavigatedViewer. Ids that are not in the diagram are
 * ignored. When the diagram is shown, zoomed to fit and marked, the container gets data-ready="1";
 * when anything fails, it gets data-error="<message>" and a short Dutch text instead of the diagram.
 *
 * Keyboard: the container is one tab stop (tabindex=0, aria-label from data-label). While it has focus,
 * the arrow keys pan (Shift: faster), + and - zoom, and 0 fits the whole diagram again.
 */
(function () {
  'use strict';

  var STATES = ['done', 'active', 'waiting', 'cancelled'];
  var ERROR_TEXT = 'Het diagram kon niet worden geladen.';
  var DEFAULT_LABEL = 'Procesdiagram';
  var PAN_STEP = 50;
  var PAN_STEP_FAST = 200;
  var ZOOM_FACTOR = 1.2;

  /** The markers JSON named by data-markers, as {state: [ids]}; {} when the container names none. */
  function readMarkers(container) {
    var id = container.dataset.markers;
    if (!id) {
      return {};
    }
    var script = document.getElementById(id);
    if (!script) {
      throw new Error('markers element #' + id + ' not found');
    }
    var markers = JSON.parse(script.textContent || '{}');
    if (markers === null || typeof markers !== 'object' || Array.isArray(markers)) {
      throw new Error('markers #' + id + ' is not a JSON object');
    }
    STATES.forEach(function (state) {
      var ids = markers[state];
      if (ids !== undefined && !(Array.isArray(ids) && ids.every(function (x) { return typeof x === 'string'; }))) {
        throw new Error('markers #' + id + ': "' + state + '" is not a list of element ids');
      }
    });
    return markers;
  }

  function fetchXml(url) {
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/xml, text/xml' } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error('HTTP ' + response.status + ' for ' + url);
        }
        return response.text();
      });
  }

  function addMarkers(viewer, markers) {
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    STATES.forEach(function (state) {
      (markers[state] || []).forEach(function (id) {
        if (registry.get(id)) {
          canvas.addMarker(id, state);
        }
      });
    });
  }

  /** One tab stop: the container. bpmn-js makes its <svg> focusable as well; take that out. */
  function makeAccessible(container, viewer) {
    if (!container.hasAttribute('tabindex')) {
      container.setAttribute('tabindex', '0');
    }
    if (!container.hasAttribute('role')) {
      container.setAttribute('role', 'img');
    }
    container.setAttribute('aria-label', container.dataset.label || DEFAULT_LABEL);
    var svg = container.querySelector('svg');
    if (svg) {
      svg.removeAttribute('tabindex');
      svg.setAttribute('aria-hidden', 'true');
    }

    var canvas = viewer.get('canvas');
    container.addEventListener('keydown', function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey) {
        return;
      }
      var step = event.shiftKey ? PAN_STEP_FAST : PAN_STEP;
      switch (event.key) {
        case 'ArrowLeft': canvas.scroll({ dx: step }); break;
        case 'ArrowRight': canvas.scroll({ dx: -step }); break;
        case 'ArrowUp': canvas.scroll({ dy: step }); break;
        case 'ArrowDown': canvas.scroll({ dy: -step }); break;
        case '+': case '=': canvas.zoom(canvas.zoom() * ZOOM_FACTOR); break;
        case '-': canvas.zoom(canvas.zoom() / ZOOM_FACTOR); break;
        case '0': canvas.zoom('fit-viewport', 'auto'); break;
        default: return;
      }
      event.preventDefault();
    });
  }

  function showError(container, viewer, error) {
    if (viewer) {
      try {
        viewer.destroy();
      } catch (ignored) {
        // the viewer may be half-built; the container is emptied below anyway
      }
    }
    container.removeAttribute('data-ready');
    container.dataset.error = (error && error.message) || String(error);
    container.textContent = '';
    var text = document.createElement('p');
    text.className = 'diagram-error';
    text.textContent = ERROR_TEXT;
    container.appendChild(text);
    if (window.console) {
      console.error('case-diagram: ' + container.dataset.error);
    }
  }

  function render(container) {
    var viewer = null;
    container.classList.add('case-diagram');
    try {
      if (typeof window.BpmnJS !== 'function') {
        throw new Error('bpmn-js is not loaded');
      }
      var markers = readMarkers(container);
      viewer = new window.BpmnJS({ container: container });
    } catch (error) {
      showError(container, viewer, error);
      return Promise.resolve();
    }
    return fetchXml(container.dataset.bpmnUrl)
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function (result) {
        if (result && result.warnings && result.warnings.length && window.console) {
          console.warn('case-diagram: ' + result.warnings.length + ' import warning(s)', result.warnings);
        }
        addMarkers(viewer, markers);
        makeAccessible(container, viewer);
        viewer.get('canvas').zoom('fit-viewport', 'auto');
        if (window.ResizeObserver) {
          new ResizeObserver(function () { viewer.get('canvas').resized(); }).observe(container);
        }
        container.dataset.ready = '1';
      })
      .catch(function (error) { showError(container, viewer, error); });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll('[data-bpmn-url]'), render);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
}());
