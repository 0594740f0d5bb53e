/*
 * Audit scrubber: the range input of form[data-scrubber] moves through the case's events.
 *
 * Without this script the form still works (choose a value, press "Toon"; the Vorige/Volgende links are plain
 * links to ?stap=N). With it, the number next to the slider follows while dragging, and letting go (or an arrow
 * key) loads the case at that event at once; the "Toon" button is then hidden. No inline script anywhere: CSP.
 */
(function () {
  'use strict';

  function describe(range, output) {
    var text = range.value + ' van ' + range.max;
    output.textContent = text;
    range.setAttribute('aria-valuetext', 'Gebeurtenis ' + text);
  }

  function init(form) {
    var range = form.querySelector('input[type="range"]');
    var output = form.querySelector('output');
    if (!range || !output) {
      return;
    }
    form.classList.add('met-script');
    var shown = range.value;
    range.addEventListener('input', function () { describe(range, output); });
    range.addEventListener('change', function () {
      if (range.value !== shown) {
        shown = range.value;
        form.submit();
      }
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll('form[data-scrubber]'), init);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
