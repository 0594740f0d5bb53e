/*
 * Process editor: the draft's diagrams in the bpmn-js Modeler with our properties panel
 * (vendor/bpmn-modeler/bpmn-modeler.js, built from tools/bpmn-build), DMN files as text.
 *
 * Markup (web/templates/models/editor.html; no inline script, so it works under the site's CSP):
 *   <div id="editor" data-editor="editor-gegevens" data-csrf="…"> … tabs [data-file], #editor-canvas,
 *     #editor-paneel, #editor-tekstvak, #problemen-lijst … </div>
 *   <script type="application/json" id="editor-gegevens">
 *     {"files": [{"name": "regeling.bpmn", "kind": "bpmn", "url": "…"}], "forms": [...], "roles": [...],
 *      "checkUrl": "…", "formEditorUrls": {"aanmelding.schema.json": "…"}}
 *   </script>
 *
 * The file API: GET url → text; POST url {"text": …} with header X-CSRF-Token → {"opgeslagen", "problemen"}.
 * A problem: {"bestand", "element", "melding", "ernst": "fout"|"waarschuwing"}. Problems are listed, marked on
 * their element (marker + overlay) and counted in data-problems on #editor. When the first diagram is
 * shown, #editor gets data-ready="1"; while a request runs, data-busy="1".
 *
 * For tests and power users the page exposes window.regelingEditor: {modeler, modeling, elementRegistry,
 * show(name), save(), check()}.
 */
(function () {
  'use strict';

  var TEXT = {
    loading: 'Het concept wordt geladen…',
    loaded: 'Het concept is geladen. Kies een element om de eigenschappen te zien.',
    loadFailed: 'Het bestand {name} kon niet worden geladen.',
    importFailed: 'Het diagram {name} kon niet worden getoond: het is geen geldig BPMN-diagram.',
    saving: 'Bezig met opslaan…',
    saved: 'Opgeslagen.',
    savedWithProblems: 'Opgeslagen, maar er zijn problemen: zie de lijst onder het diagram.',
    notSaved: '{name} is niet opgeslagen: zie de problemen onder het diagram.',
    nothingToSave: 'Er zijn geen wijzigingen om op te slaan.',
    checking: 'Bezig met controleren…',
    checkedClean: 'Gecontroleerd: geen problemen gevonden.',
    checkedProblems: 'Gecontroleerd: {n} probleem/problemen gevonden.',
    requestFailed: 'Dat lukte niet (HTTP {status}). Probeer het opnieuw; blijft het misgaan, meld het dan.',
    networkFailed: 'De server is niet bereikbaar. Uw wijzigingen staan nog in deze pagina; probeer het opnieuw.',
    sessionEnded: 'Uw sessie is verlopen. Log opnieuw in in een ander tabblad en probeer het dan opnieuw.',
    unsaved: 'Er zijn wijzigingen die nog niet zijn opgeslagen.',
    importWarning: 'Bij het laden: {message}',
    unknownElement: 'Onbekend element {tag}: het gaat verloren als u dit diagram opslaat.',
    notChecked: 'Nog niet gecontroleerd. Kies “Controleren” om het concept na te lopen.',
    noProblems: 'Geen problemen gevonden.',
    editForm: 'Formulier {name} bewerken',
    severity: { fout: 'fout', waarschuwing: 'waarschuwing' },
    textLabel: { dmn: 'DMN-beslistabel (XML)', form: 'Formulier (JSON Schema)', other: 'Inhoud' },
  };

  function format(template, values) {
    return template.replace(/{(\w+)}/g, function (match, key) {
      return values && key in values ? String(values[key]) : match;
    });
  }

  function readIsland(id) {
    var script = document.getElementById(id);
    if (!script) {
      throw new Error('data element #' + id + ' not found');
    }
    return JSON.parse(script.textContent || '{}');
  }

  function csrfToken(container) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return (meta && meta.getAttribute('content')) || container.dataset.csrf || '';
  }

  /** A request that answers JSON; resolves {status, body} for any HTTP status, rejects only on network errors. */
  function requestJson(url, options) {
    return fetch(url, Object.assign({ credentials: 'same-origin', redirect: 'manual' }, options)).then(function (response) {
      var type = response.headers.get('Content-Type') || '';
      if (type.indexOf('application/json') === -1) {
        return { status: response.status || 0, body: null };
      }
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    });
  }

  function requestFailure(result) {
    if (result.status === 0 || result.status === 401 || result.status === 302) {
      return TEXT.sessionEnded;  // a redirect to the login page
    }
    return format(TEXT.requestFailed, { status: result.status });
  }

  function decisionsOf(dmnText) {
    var doc = new DOMParser().parseFromString(dmnText, 'application/xml');
    if (doc.getElementsByTagName('parsererror').length) {
      return [];
    }
    return Array.prototype.map.call(doc.getElementsByTagNameNS('*', 'decision'), function (decision) {
      return { id: decision.getAttribute('id') || '', name: decision.getAttribute('name') || '' };
    }).filter(function (decision) { return decision.id; });
  }

  /** Zoom to 100 % with the element in the middle, clear of the palette in the top left corner. */
  function centre(canvas, element) {
    canvas.zoom(1);
    var box = canvas.viewbox();
    var middle = element.waypoints
      ? element.waypoints[Math.floor(element.waypoints.length / 2)]
      : { x: element.x + element.width / 2, y: element.y + element.height / 2 };
    canvas.viewbox({ x: middle.x - box.width / 2, y: middle.y - box.height / 2, width: box.width, height: box.height });
  }

  function problemKey(problem) {
    return [problem.bestand, problem.element, problem.melding, problem.ernst].join('\u0000');
  }

  function uniqueProblems(problems) {
    var seen = {};
    return problems.filter(function (problem) {
      var key = problemKey(problem);
      if (seen[key]) {
        return false;
      }
      seen[key] = true;
      return true;
    });
  }

  function normalisedProblem(raw, fallbackFile) {
    return {
      bestand: String((raw && raw.bestand) || fallbackFile || ''),
      element: String((raw && raw.element) || ''),
      melding: String((raw && raw.melding) || ''),
      ernst: raw && raw.ernst === 'waarschuwing' ? 'waarschuwing' : 'fout',
    };
  }

  // ------------------------------------------------------------------------------------------------------

  function Editor(container, data) {
    this.container = container;
    this.data = data;
    this.files = {};
    this.order = [];
    this.current = null;
    this.serverProblems = null;   // null: not checked yet
    this.localProblems = {};      // file name -> problems found while loading it
    this.problemOverlays = [];
    this.busy = false;
    this.catalog = { forms: data.forms || [], roles: data.roles || [], decisions: [] };

    this.status = document.getElementById('editor-status');
    this.tabs = Array.prototype.slice.call(container.querySelectorAll('[data-file]'));
    this.diagramPane = document.getElementById('editor-diagram');
    this.textPane = document.getElementById('editor-tekst');
    this.textArea = document.getElementById('editor-tekstvak');
    this.textLabel = document.getElementById('editor-tekstlabel');
    this.problemList = document.getElementById('problemen-lijst');
    this.problemEmpty = document.getElementById('problemen-leeg');
    this.saveButton = document.getElementById('editor-opslaan');
    this.checkButton = document.getElementById('editor-controleren');
    this.formLink = document.getElementById('editor-formulierlink');

    var self = this;
    (data.files || []).forEach(function (file) {
      self.files[file.name] = { name: file.name, kind: file.kind, url: file.url, text: '', dirty: false, loaded: false };
      self.order.push(file.name);
    });

    this.modeler = window.RegelingModeler.createModeler({
      container: document.getElementById('editor-canvas'),
      propertiesPanel: document.getElementById('editor-paneel'),
      catalog: this.catalog,
    });
    this.modeler.on('commandStack.changed', function (event) {
      if (event.trigger !== 'clear' && self.current && self.files[self.current].kind === 'bpmn') {
        self.markDirty(self.current);
      }
    });
    this.modeler.on('selection.changed', function () { self.showFormLink(); });
    this.modeler.on('elements.changed', function () { self.showFormLink(); });
  }

  Editor.prototype.setStatus = function (text, isError) {
    this.status.textContent = text;
    this.status.classList.toggle('fout', !!isError);
  };

  Editor.prototype.setBusy = function (busy) {
    this.busy = busy;
    this.saveButton.disabled = busy;
    this.checkButton.disabled = busy;
    if (busy) {
      this.container.dataset.busy = '1';
    } else {
      delete this.container.dataset.busy;
    }
  };

  Editor.prototype.isDirty = function () {
    var self = this;
    return this.order.some(function (name) { return self.files[name].dirty; });
  };

  Editor.prototype.markDirty = function (name) {
    this.files[name].dirty = true;
    this.tabFor(name).classList.add('gewijzigd');
  };

  Editor.prototype.markClean = function (name) {
    this.files[name].dirty = false;
    this.tabFor(name).classList.remove('gewijzigd');
  };

  Editor.prototype.tabFor = function (name) {
    return this.tabs.filter(function (tab) { return tab.dataset.file === name; })[0];
  };

  // -- loading and switching ---------------------------------------------------------------------------

  Editor.prototype.start = function () {
    var self = this;
    this.setBusy(true);
    this.setStatus(TEXT.loading);
    this.tabs.forEach(function (tab) {
      tab.addEventListener('click', function () { self.show(tab.dataset.file); });
      tab.addEventListener('keydown', function (event) { self.onTabKey(event, tab); });
    });
    this.saveButton.addEventListener('click', function () { self.save(); });
    this.checkButton.addEventListener('click', function () { self.check(); });
    this.textArea.addEventListener('input', function () {
      if (self.current) {
        self.files[self.current].text = self.textArea.value;
        self.markDirty(self.current);
        self.refreshDecisions();
      }
    });
    document.addEventListener('keydown', function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key === 's') {
        event.preventDefault();
        self.save();
      }
    });
    window.addEventListener('beforeunload', function (event) {
      if (self.isDirty()) {
        event.preventDefault();
        event.returnValue = TEXT.unsaved;
      }
    });
    this.guardDeployForm();
    ['editor-vergelijken', 'editor-proefrit'].forEach(function (id) {
      var link = document.getElementById(id);
      if (link) {
        link.addEventListener('click', function (event) { self.saveBeforeLeaving(event, link.href); });
      }
    });

    return Promise.all(this.order.map(function (name) { return self.fetchFile(name); }))
      .then(function () {
        self.refreshDecisions();
        return self.show(self.firstDiagram());
      })
      .then(function () {
        self.setStatus(TEXT.loaded);
        self.container.dataset.ready = '1';
      })
      .catch(function (error) {
        self.setStatus(error.message || String(error), true);
        self.container.dataset.error = error.message || String(error);
      })
      .then(function () { self.setBusy(false); });
  };

  Editor.prototype.firstDiagram = function () {
    var self = this;
    var preferred = (this.data.processKey || '') + '.bpmn';
    if (this.files[preferred]) {
      return preferred;
    }
    return this.order.filter(function (name) { return self.files[name].kind === 'bpmn'; })[0] || this.order[0];
  };

  Editor.prototype.fetchFile = function (name) {
    var file = this.files[name];
    return fetch(file.url, { credentials: 'same-origin', headers: { Accept: 'application/xml, application/json, text/plain' } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(format(TEXT.loadFailed, { name: name }));
        }
        return response.text();
      })
      .then(function (text) {
        file.text = text;
        file.loaded = true;
      });
  };

  Editor.prototype.refreshDecisions = function () {
    var self = this;
    var decisions = [];
    this.order.forEach(function (name) {
      if (self.files[name].kind === 'dmn') {
        decisions = decisions.concat(decisionsOf(self.files[name].text));
      }
    });
    this.catalog.decisions = decisions;
  };

  /** Keep what the modeler shows in the file's text (before switching away, saving or checking). */
  Editor.prototype.flush = function () {
    var self = this;
    var name = this.current;
    if (!name || this.files[name].kind !== 'bpmn' || !this.files[name].dirty) {
      return Promise.resolve();
    }
    return this.modeler.saveXML({ format: true }).then(function (result) {
      self.files[name].text = result.xml;
    });
  };

  Editor.prototype.show = function (name) {
    var self = this;
    var file = this.files[name];
    if (!file || name === this.current) {
      return Promise.resolve();
    }
    return this.flush().then(function () {
      self.current = name;
      self.tabs.forEach(function (tab) {
        var selected = tab.dataset.file === name;
        tab.setAttribute('aria-selected', selected ? 'true' : 'false');
        tab.tabIndex = selected ? 0 : -1;
      });
      if (file.kind !== 'bpmn') {
        self.diagramPane.hidden = true;
        self.textPane.hidden = false;
        self.textLabel.textContent = TEXT.textLabel[file.kind] || TEXT.textLabel.other;
        self.textArea.value = file.text;
        return undefined;
      }
      self.textPane.hidden = true;
      self.diagramPane.hidden = false;
      var dirty = file.dirty;
      return self.modeler.importXML(file.text)
        .then(function (result) {
          self.localProblems[name] = self.importProblems(name, result.warnings || []);
          self.modeler.get('canvas').zoom('fit-viewport', 'auto');
          if (dirty) {
            self.markDirty(name);  // importXML cleared the command stack, not our changes
          }
        })
        .catch(function (error) {
          self.localProblems[name] = [{ bestand: name, element: '', melding: format(TEXT.importFailed, { name: name }), ernst: 'fout' }];
          if (window.console) {
            console.error('process-editor: ' + (error && error.message));
          }
        })
        .then(function () {
          self.renderProblems();
          self.showFormLink();
        });
    });
  };

  Editor.prototype.importProblems = function (name, warnings) {
    return warnings.filter(function (warning) {
      // references SpiffWorkflow reads as names (loopDataInputRef) are put back by the bundle
      return !/^unresolved reference/.test(warning.message || '');
    }).map(function (warning) {
      var message = warning.message || String(warning);
      var unknown = /unparsable content <([^>]+)>/.exec(message);
      return {
        bestand: name,
        element: '',
        melding: unknown ? format(TEXT.unknownElement, { tag: unknown[1] }) : format(TEXT.importWarning, { message: message.split('\n')[0] }),
        ernst: 'waarschuwing',
      };
    });
  };

  Editor.prototype.onTabKey = function (event, tab) {
    var index = this.tabs.indexOf(tab);
    var next = null;
    if (event.key === 'ArrowRight') {
      next = this.tabs[(index + 1) % this.tabs.length];
    } else if (event.key === 'ArrowLeft') {
      next = this.tabs[(index - 1 + this.tabs.length) % this.tabs.length];
    }
    if (next) {
      event.preventDefault();
      next.focus();
      this.show(next.dataset.file);
    }
  };

  // -- saving and checking -----------------------------------------------------------------------------

  Editor.prototype.post = function (url, payload) {
    return requestJson(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrfToken(this.container) },
      body: JSON.stringify(payload),
    });
  };

  /** Store every changed file; resolves true when all were stored. */
  Editor.prototype.saveChanges = function () {
    var self = this;
    var names = this.order.filter(function (name) { return self.files[name].dirty; });
    var problems = [];
    var refused = null;
    var chain = this.flush();
    names.forEach(function (name) {
      chain = chain.then(function () {
        if (refused) {
          return undefined;
        }
        return self.post(self.files[name].url, { text: self.files[name].text }).then(function (result) {
          var body = result.body || {};
          (body.problemen || []).forEach(function (problem) { problems.push(normalisedProblem(problem, name)); });
          if (result.status === 200 && body.opgeslagen) {
            self.markClean(name);
          } else if (result.status === 400) {
            refused = format(TEXT.notSaved, { name: name });
          } else {
            refused = requestFailure(result);
          }
        });
      });
    });
    return chain.then(function () {
      return { saved: names.length, refused: refused, problems: uniqueProblems(problems) };
    });
  };

  Editor.prototype.save = function () {
    var self = this;
    if (this.busy) {
      return Promise.resolve(false);
    }
    if (!this.isDirty()) {
      this.setStatus(TEXT.nothingToSave);
      return Promise.resolve(true);
    }
    this.setBusy(true);
    this.setStatus(TEXT.saving);
    return this.saveChanges()
      .then(function (outcome) {
        self.serverProblems = outcome.problems;
        self.renderProblems();
        if (outcome.refused) {
          self.setStatus(outcome.refused, true);
          return false;
        }
        self.setStatus(outcome.problems.length ? TEXT.savedWithProblems : TEXT.saved);
        return true;
      }, function () {
        self.setStatus(TEXT.networkFailed, true);
        return false;
      })
      .then(function (ok) {
        self.setBusy(false);
        return ok;
      });
  };

  /** Save what changed, then ask the server to check the whole draft. */
  Editor.prototype.check = function () {
    var self = this;
    if (this.busy) {
      return Promise.resolve(false);
    }
    this.setBusy(true);
    this.setStatus(this.isDirty() ? TEXT.saving : TEXT.checking);
    return this.saveChanges()
      .then(function (outcome) {
        if (outcome.refused) {
          self.serverProblems = outcome.problems;
          self.renderProblems();
          self.setStatus(outcome.refused, true);
          return false;
        }
        self.setStatus(TEXT.checking);
        return self.post(self.data.checkUrl, {}).then(function (result) {
          if (result.status !== 200 || !result.body) {
            self.setStatus(requestFailure(result), true);
            return false;
          }
          self.serverProblems = uniqueProblems((result.body.problemen || []).map(function (p) { return normalisedProblem(p, ''); }));
          self.renderProblems();
          var n = self.serverProblems.length;
          self.setStatus(n ? format(TEXT.checkedProblems, { n: n }) : TEXT.checkedClean, n > 0);
          return n === 0;
        });
      }, function () {
        self.setStatus(TEXT.networkFailed, true);
        return false;
      })
      .then(function (ok) {
        self.setBusy(false);
        return ok;
      }, function () {
        self.setStatus(TEXT.networkFailed, true);
        self.setBusy(false);
        return false;
      });
  };

  /** The deploy form is a plain form; with JavaScript, unsaved changes are saved before it is sent. */
  Editor.prototype.guardDeployForm = function () {
    var self = this;
    var form = document.getElementById('in-gebruik-nemen');
    if (!form) {
      return;
    }
    form.addEventListener('submit', function (event) {
      if (!self.isDirty()) {
        return;
      }
      event.preventDefault();
      self.save().then(function (ok) {
        if (ok && !self.isDirty()) {
          form.submit();
        }
      });
    });
  };

  /** Vergelijken and Proefrit work on the stored draft: store the changes first, then go. */
  Editor.prototype.saveBeforeLeaving = function (event, href) {
    var self = this;
    if (!this.isDirty()) {
      return;
    }
    event.preventDefault();
    this.save().then(function (ok) {
      if (ok && !self.isDirty()) {
        window.location.assign(href);
      }
    });
  };

  // -- problems ----------------------------------------------------------------------------------------

  Editor.prototype.allProblems = function () {
    var self = this;
    var local = [];
    this.order.forEach(function (name) { local = local.concat(self.localProblems[name] || []); });
    return uniqueProblems(local.concat(this.serverProblems || []));
  };

  Editor.prototype.renderProblems = function () {
    var self = this;
    var problems = this.allProblems();
    this.container.dataset.problems = String(problems.length);

    this.problemList.textContent = '';
    problems.forEach(function (problem) { self.problemList.appendChild(self.problemItem(problem)); });
    this.problemEmpty.hidden = problems.length > 0;
    this.problemEmpty.textContent = this.serverProblems === null ? TEXT.notChecked : TEXT.noProblems;

    this.tabs.forEach(function (tab) {
      var count = problems.filter(function (p) { return p.bestand === tab.dataset.file; }).length;
      var badge = tab.querySelector('.editor-tab-teller');
      badge.hidden = count === 0;
      badge.textContent = count ? String(count) : '';
      if (count) {
        var spoken = document.createElement('span');
        spoken.className = 'verborgen';
        spoken.textContent = count === 1 ? ' probleem' : ' problemen';
        badge.appendChild(spoken);
      }
    });
    this.markProblems(problems);
  };

  Editor.prototype.problemItem = function (problem) {
    var self = this;
    var item = document.createElement('li');
    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'probleem-knop ' + problem.ernst;
    button.dataset.bestand = problem.bestand;
    button.dataset.element = problem.element;

    var severity = document.createElement('span');
    severity.className = 'probleem-ernst';
    severity.textContent = TEXT.severity[problem.ernst];
    var where = document.createElement('span');
    where.className = 'probleem-waar';
    where.textContent = problem.bestand + (problem.element ? ' › ' + this.elementLabel(problem) : '') + ': ';
    var message = document.createElement('span');
    message.className = 'probleem-melding';
    message.textContent = problem.melding;

    button.appendChild(severity);
    button.appendChild(where);
    button.appendChild(message);
    button.addEventListener('click', function () { self.reveal(problem); });
    item.appendChild(button);
    return item;
  };

  Editor.prototype.elementLabel = function (problem) {
    if (problem.bestand === this.current && this.files[this.current].kind === 'bpmn') {
      var element = this.modeler.get('elementRegistry').get(problem.element);
      var name = element && element.businessObject && element.businessObject.name;
      if (name) {
        return name + ' (' + problem.element + ')';
      }
    }
    return problem.element;
  };

  Editor.prototype.markProblems = function (problems) {
    var file = this.current && this.files[this.current];
    var overlays = this.modeler.get('overlays');
    var canvas = this.modeler.get('canvas');
    var registry = this.modeler.get('elementRegistry');
    this.problemOverlays.forEach(function (mark) {
      overlays.remove(mark.overlay);
      if (registry.get(mark.id)) {
        canvas.removeMarker(mark.id, 'probleem-fout');
        canvas.removeMarker(mark.id, 'probleem-waarschuwing');
      }
    });
    this.problemOverlays = [];
    if (!file || file.kind !== 'bpmn') {
      return;
    }
    var byElement = {};
    problems.forEach(function (problem) {
      if (problem.bestand === file.name && problem.element && registry.get(problem.element)) {
        (byElement[problem.element] = byElement[problem.element] || []).push(problem);
      }
    });
    var self = this;
    Object.keys(byElement).forEach(function (id) {
      var list = byElement[id];
      var worst = list.some(function (p) { return p.ernst === 'fout'; }) ? 'fout' : 'waarschuwing';
      canvas.addMarker(id, 'probleem-' + worst);
      var box = document.createElement('div');
      box.className = 'probleem-overlay ' + worst;
      box.textContent = list.map(function (p) { return p.melding; }).join(' · ');
      var overlay = overlays.add(id, 'regeling-probleem', { position: { bottom: -4, left: 0 }, html: box });
      self.problemOverlays.push({ id: id, overlay: overlay });
    });
  };

  /** Show the problem's file, select its element and scroll it into view. */
  Editor.prototype.reveal = function (problem) {
    var self = this;
    var name = this.files[problem.bestand] ? problem.bestand : this.current;
    return this.show(name).then(function () {
      if (self.files[name].kind !== 'bpmn') {
        self.textArea.focus();
        return;
      }
      var element = problem.element && self.modeler.get('elementRegistry').get(problem.element);
      if (!element) {
        return;
      }
      self.modeler.get('selection').select(element);
      centre(self.modeler.get('canvas'), element);
      document.getElementById('editor-canvas').scrollIntoView({ block: 'nearest' });
    });
  };

  // -- link to the form editor of the selected user task -----------------------------------------------

  Editor.prototype.showFormLink = function () {
    var link = this.formLink;
    var selected = this.modeler.get('selection').get();
    var element = selected.length === 1 ? selected[0] : null;
    var bo = element && element.businessObject;
    var form = '';
    if (bo && bo.$instanceOf && bo.$instanceOf('bpmn:UserTask')) {
      var extensions = (bo.extensionElements && bo.extensionElements.values) || [];
      extensions.forEach(function (extension) {
        if (extension.$instanceOf('spiffworkflow:Properties')) {
          (extension.properties || []).forEach(function (property) {
            if (property.name === 'formJsonSchemaFilename') {
              form = property.value || '';
            }
          });
        }
      });
    }
    var url = form && (this.data.formEditorUrls || {})[form];
    link.hidden = !url;
    if (url) {
      var anchor = link.querySelector('a');
      anchor.href = url;
      anchor.textContent = format(TEXT.editForm, { name: form });
    }
  };

  // ------------------------------------------------------------------------------------------------------

  function init() {
    var container = document.getElementById('editor');
    if (!container) {
      return;
    }
    var editor;
    try {
      if (!window.RegelingModeler) {
        throw new Error('bpmn-modeler.js is not loaded');
      }
      editor = new Editor(container, readIsland(container.dataset.editor));
    } catch (error) {
      container.dataset.error = error.message;
      var status = document.getElementById('editor-status');
      if (status) {
        status.textContent = 'De editor kon niet worden gestart.';
        status.classList.add('fout');
      }
      return;
    }
    window.regelingEditor = {
      editor: editor,
      modeler: editor.modeler,
      modeling: editor.modeler.get('modeling'),
      elementRegistry: editor.modeler.get('elementRegistry'),
      show: function (name) { return editor.show(name); },
      save: function () { return editor.save(); },
      check: function () { return editor.check(); },
      xml: function () { return editor.modeler.saveXML({ format: true }).then(function (r) { return r.xml; }); },
    };
    editor.start();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
}());
