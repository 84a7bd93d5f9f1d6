// Docket dashboard: live updates, confirmations, copy buttons. Plain
// JavaScript, no build step. Every page works without it: forms post, and
// the server asks for confirmation itself.
(function () {
  'use strict';
  document.documentElement.classList.remove('no-js');

  var live = document.getElementById('live');
  var toggle = document.getElementById('live-toggle');
  var status = document.getElementById('live-status');
  var dialog = document.getElementById('confirm');
  var refresh = Number(document.body.getAttribute('data-refresh')) || 0;
  var pausedKey = 'docket-ui-paused';
  var paused = false;
  try { paused = window.localStorage.getItem(pausedKey) === '1'; } catch (e) { /* storage off */ }
  var timer = null;

  function say(text) { if (status) { status.textContent = text; } }

  function showPaused() {
    if (!toggle) { return; }
    toggle.setAttribute('aria-pressed', paused ? 'true' : 'false');
    toggle.textContent = paused ? 'Resume live updates' : 'Pause live updates';
    say(paused ? 'Paused' : 'Live');
  }

  // busy: an update now would get in the user's way (focus in the part
  // that changes, text selected there, a confirmation open).
  function busy() {
    if (dialog && dialog.open) { return true; }
    var a = document.activeElement;
    if (a && a !== document.body && live.contains(a)) { return true; }
    var sel = window.getSelection && window.getSelection();
    return !!(sel && !sel.isCollapsed && live.contains(sel.anchorNode));
  }

  function schedule() {
    window.clearTimeout(timer);
    if (refresh > 0 && !paused) { timer = window.setTimeout(update, refresh); }
  }

  function update() {
    if (paused || document.hidden || busy()) { schedule(); return; }
    fetch(window.location.href, { headers: { 'X-Docket-Live': '1' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) {
        if (!r.ok) { throw new Error('HTTP ' + r.status); }
        return r.text();
      })
      .then(function (html) {
        if (!busy()) {
          live.innerHTML = html; // rendered and escaped by the server
          say('Updated ' + new Date().toLocaleTimeString());
        }
      })
      .catch(function (e) { say('Update failed (' + e.message + '); trying again'); })
      .then(schedule);
  }

  if (live && toggle && refresh > 0) {
    showPaused();
    toggle.addEventListener('click', function () {
      paused = !paused;
      try { window.localStorage.setItem(pausedKey, paused ? '1' : '0'); } catch (e) { /* storage off */ }
      showPaused();
      if (!paused) { update(); } else { window.clearTimeout(timer); }
    });
    document.addEventListener('visibilitychange', function () { if (!document.hidden && !paused) { update(); } });
    schedule();
  }

  // Confirmations: a form with data-confirm asks in a dialog first.
  var pending = null;
  document.addEventListener('submit', function (e) {
    var form = e.target;
    var question = form.getAttribute && form.getAttribute('data-confirm');
    if (!question || !dialog || typeof dialog.showModal !== 'function') { return; }
    e.preventDefault();
    pending = form;
    document.getElementById('confirm-text').textContent = question;
    dialog.returnValue = '';
    dialog.showModal();
  });
  if (dialog) {
    dialog.addEventListener('close', function () {
      var form = pending;
      pending = null;
      if (form && dialog.returnValue === 'yes') {
        form.querySelector('input[name="confirmed"]').value = '1';
        form.submit();
      }
    });
  }

  // Copy buttons copy the text of the element they name.
  document.addEventListener('click', function (e) {
    var b = e.target.closest && e.target.closest('button[data-copy]');
    if (!b) { return; }
    var source = document.getElementById(b.getAttribute('data-copy'));
    if (!source) { return; }
    var done = function (text) {
      b.textContent = text;
      window.setTimeout(function () { b.textContent = 'Copy'; }, 1500);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(source.textContent).then(function () { done('Copied'); }, function () { done('Copy failed'); });
    } else {
      var range = document.createRange();
      range.selectNodeContents(source);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      done('Selected: press Ctrl+C');
    }
  });
}());
