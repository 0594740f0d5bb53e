/*
 * Form editor: a form's JSON Schema in a text area, a live preview rendered by the server, and saving through
 * the draft's file API. No inline script (web/templates/models/formulier.html).
 *
 *   <div id="formulier-editor" data-file-url="…" data-preview-url="…" data-csrf="…"> #schema, #json-fout,
 *     #formulier-opslaan, #formulier-voorbeeld … </div>
 *
 * GET file-url → the schema text. POST file-url {"text"} → {"opgeslagen", "problemen"}. POST preview-url
 * {"text"} → 200 {"html"} or 400 {"problemen"}. JSON syntax errors are shown with line and column before
 * anything is sent. State for tests: data-ready="1" once loaded; data-preview="ok"|"fout"|"json" after each
 * preview; data-saved="1" after a save the server accepted.
 */
(function () {
  'use strict';

  var PREVIEW_DELAY_MS = 400;
  var TEXT = {
    loaded: 'Het formulier is geladen.',
    loadFailed: 'Het formulier kon niet worden geladen.',
    jsonError: 'Geen geldige JSON op regel {line}, kolom {column}.',
    jsonErrorNoPlace: 'Geen geldige JSON.',
    notAnObject: 'Een formulier is een JSON-object: het moet beginnen met {.',
    saving: 'Bezig met opslaan…',
    saved: 'Opgeslagen.',
    savedWithProblems: 'Opgeslagen, maar er zijn problemen (zie hieronder).',
    notSaved: 'Niet opgeslagen: zie de problemen hieronder.',
    notSavedJson: 'Niet opgeslagen: verbeter eerst de JSON.',
    failed: 'Dat lukte niet (HTTP {status}). Probeer het opnieuw.',
    offline: 'De server is niet bereikbaar; uw tekst staat nog in deze pagina.',
    previewFailed: 'Het voorbeeld kan niet worden getoond: zie de problemen hieronder.',
    unsaved: 'Er zijn wijzigingen die nog niet zijn opgeslagen.',
  };

  function format(template, values) {
    return template.replace(/{(\w+)}/g, function (match, key) { return key in values ? String(values[key]) : match; });
  }

  /** Line and column (1-based) of a character offset in text. */
  function placeOf(text, offset) {
    var before = text.slice(0, offset);
    var lines = before.split('\n');
    return { line: lines.length, column: lines[lines.length - 1].length + 1 };
  }

  /** null when the text is a JSON object, else a Dutch message with the place of the error. */
  function jsonProblem(text) {
    var value;
    try {
      value = JSON.parse(text);
    } catch (error) {
      var message = String(error && error.message);
      var lineColumn = /line (\d+) column (\d+)/.exec(message);
      if (lineColumn) {
        return format(TEXT.jsonError, { line: lineColumn[1], column: lineColumn[2] });
      }
      var position = /position (\d+)/.exec(message);
      if (position) {
        return format(TEXT.jsonError, placeOf(text, Number(position[1])));
      }
      if (/end of (JSON|data) input|Unexpected end/i.test(message)) {
        return format(TEXT.jsonError, placeOf(text, text.length));
      }
      return TEXT.jsonErrorNoPlace;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return TEXT.notAnObject;
    }
    return null;
  }

  function FormEditor(container) {
    this.container = container;
    this.area = document.getElementById('schema');
    this.error = document.getElementById('json-fout');
    this.status = document.getElementById('formulier-status');
    this.problems = document.getElementById('formulier-problemen');
    this.preview = document.getElementById('formulier-voorbeeld');
    this.saveButton = document.getElementById('formulier-opslaan');
    this.formatButton = document.getElementById('formulier-opmaken');
    this.timer = null;
    this.previewSeq = 0;
    this.dirty = false;
  }

  FormEditor.prototype.csrf = function () {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return (meta && meta.getAttribute('content')) || this.container.dataset.csrf || '';
  };

  FormEditor.prototype.post = function (url, payload) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': this.csrf() },
      body: JSON.stringify(payload),
    }).then(function (response) {
      var type = response.headers.get('Content-Type') || '';
      if (type.indexOf('application/json') === -1) {
        return { status: response.status || 0, body: null };
      }
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    });
  };

  FormEditor.prototype.setStatus = function (text, isError) {
    this.status.textContent = text;
    this.status.classList.toggle('fout', !!isError);
  };

  FormEditor.prototype.showProblems = function (problems) {
    var list = this.problems;
    list.textContent = '';
    (problems || []).forEach(function (problem) {
      var item = document.createElement('li');
      var box = document.createElement('div');
      box.className = 'probleem-knop ' + (problem.ernst === 'waarschuwing' ? 'waarschuwing' : 'fout');
      box.textContent = (problem.element ? problem.element + ': ' : '') + (problem.melding || '');
      item.appendChild(box);
      list.appendChild(item);
    });
    this.container.dataset.problems = String((problems || []).length);
  };

  FormEditor.prototype.start = function () {
    var self = this;
    fetch(this.container.dataset.fileUrl, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error('HTTP ' + response.status);
        }
        return response.text();
      })
      .then(function (text) {
        self.area.value = text;
        self.area.disabled = false;
        self.saveButton.disabled = false;
        self.formatButton.disabled = false;
        self.setStatus(TEXT.loaded);
        self.container.dataset.ready = '1';
        self.validateAndPreview();
      })
      .catch(function () { self.setStatus(TEXT.loadFailed, true); });

    this.area.addEventListener('input', function () {
      self.dirty = true;
      delete self.container.dataset.saved;
      window.clearTimeout(self.timer);
      self.timer = window.setTimeout(function () { self.validateAndPreview(); }, PREVIEW_DELAY_MS);
    });
    this.saveButton.addEventListener('click', function () { self.save(); });
    this.formatButton.addEventListener('click', function () { self.prettyPrint(); });
    // the preview is there to look at: nothing in it is ever sent
    this.preview.addEventListener('submit', function (event) { event.preventDefault(); });
    this.preview.addEventListener('click', function (event) {
      var target = event.target;
      if (target && target.closest && target.closest('button, a[href], input[type=submit]')) {
        event.preventDefault();
      }
    });
    window.addEventListener('beforeunload', function (event) {
      if (self.dirty) {
        event.preventDefault();
        event.returnValue = TEXT.unsaved;
      }
    });
    document.addEventListener('keydown', function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key === 's') {
        event.preventDefault();
        self.save();
      }
    });
  };

  /** Show a JSON error at once; only a well-formed schema goes to the server for a preview. */
  FormEditor.prototype.validateAndPreview = function () {
    var self = this;
    var text = this.area.value;
    var problem = jsonProblem(text);
    this.error.textContent = problem || '';
    this.area.setAttribute('aria-invalid', problem ? 'true' : 'false');
    if (problem) {
      this.container.dataset.preview = 'json';
      return Promise.resolve();
    }
    var seq = ++this.previewSeq;
    this.preview.setAttribute('aria-busy', 'true');
    return this.post(this.container.dataset.previewUrl, { text: text })
      .then(function (result) {
        if (seq !== self.previewSeq) {
          return;  // a newer preview is on its way
        }
        if (result.status === 200 && result.body && typeof result.body.html === 'string') {
          // server-rendered by our own form macros (autoescaped): the schema's texts arrive escaped
          self.preview.innerHTML = result.body.html;
          self.disablePreview();
          self.showProblems([]);
          self.container.dataset.preview = 'ok';
        } else {
          self.showProblems((result.body && result.body.problemen) || []);
          self.setStatus(result.body ? TEXT.previewFailed : format(TEXT.failed, { status: result.status }), true);
          self.container.dataset.preview = 'fout';
        }
      }, function () {
        self.setStatus(TEXT.offline, true);
      })
      .then(function () {
        if (seq === self.previewSeq) {
          self.preview.removeAttribute('aria-busy');
        }
      });
  };

  FormEditor.prototype.disablePreview = function () {
    Array.prototype.forEach.call(this.preview.querySelectorAll('form'), function (form) {
      form.removeAttribute('action');
      form.setAttribute('aria-label', 'Voorbeeld (kan niet worden verstuurd)');
    });
    Array.prototype.forEach.call(this.preview.querySelectorAll('input[type=file], button[type=submit], input[type=submit]'), function (control) {
      control.disabled = true;
    });
  };

  FormEditor.prototype.prettyPrint = function () {
    var text = this.area.value;
    if (jsonProblem(text)) {
      this.validateAndPreview();
      return;
    }
    var pretty = JSON.stringify(JSON.parse(text), null, 2) + '\n';
    if (pretty !== text) {
      this.area.value = pretty;
      this.dirty = true;
    }
  };

  FormEditor.prototype.save = function () {
    var self = this;
    var text = this.area.value;
    var problem = jsonProblem(text);
    if (problem) {
      this.error.textContent = problem;
      this.setStatus(TEXT.notSavedJson, true);
      this.area.focus();
      return Promise.resolve(false);
    }
    this.saveButton.disabled = true;
    this.setStatus(TEXT.saving);
    return this.post(this.container.dataset.fileUrl, { text: text })
      .then(function (result) {
        var body = result.body || {};
        self.showProblems(body.problemen || []);
        if (result.status === 200 && body.opgeslagen) {
          self.dirty = self.area.value !== text;
          self.container.dataset.saved = '1';
          self.setStatus((body.problemen || []).length ? TEXT.savedWithProblems : TEXT.saved);
          return true;
        }
        self.setStatus(result.status === 400 ? TEXT.notSaved : format(TEXT.failed, { status: result.status }), true);
        return false;
      }, function () {
        self.setStatus(TEXT.offline, true);
        return false;
      })
      .then(function (ok) {
        self.saveButton.disabled = false;
        return ok;
      });
  };

  function init() {
    var container = document.getElementById('formulier-editor');
    if (container) {
      new FormEditor(container).start();
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
}());
