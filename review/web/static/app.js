// Aura review: keyboard navigation and small conveniences. No dependencies; the pages work
// without it.
(function () {
  'use strict';
  var page = document.body.getAttribute('data-page');
  var help = document.getElementById('help');
  var busy = false;

  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function go(href) { if (href) { busy = true; window.location.assign(href); } }
  function link(id) { var a = document.getElementById(id); return a ? a.getAttribute('href') : ''; }

  // Queue: j/k move the selection, Enter or o opens it. The page's case ids are kept so that
  // k on a case page can go back to the case before it.
  var rows = [], sel = -1;
  function select(i) {
    if (!rows.length) { return; }
    i = Math.max(0, Math.min(rows.length - 1, i));
    if (sel >= 0) { rows[sel].classList.remove('sel'); }
    sel = i;
    rows[sel].classList.add('sel');
    rows[sel].scrollIntoView({ block: 'nearest' });
  }
  if (page === 'queue') {
    rows = Array.prototype.slice.call(document.querySelectorAll('tr[data-href]'));
    rows.forEach(function (r, i) {
      r.addEventListener('click', function (e) { if (e.target.tagName !== 'A') { select(i); go(r.getAttribute('data-href')); } });
    });
    try {
      sessionStorage.setItem('aura.queue', JSON.stringify(rows.map(function (r) {
        return [r.getAttribute('data-id'), r.getAttribute('data-href')];
      })));
    } catch (e) { /* storage may be off */ }
  }

  // Case: the previous case of the queue page the moderator came from, else the server's.
  function previousCase() {
    var head = document.querySelector('[data-case]');
    var id = head && head.getAttribute('data-case');
    try {
      var list = JSON.parse(sessionStorage.getItem('aura.queue') || '[]');
      for (var i = 1; i < list.length; i++) {
        if (list[i][0] === id) { return list[i - 1][1]; }
      }
    } catch (e) { /* ignore */ }
    return link('prev-case');
  }

  function decide(key) {
    var b = document.getElementById('decide-' + key);
    var form = document.getElementById('decide');
    if (!b || b.disabled || !form || busy) { return false; }
    busy = true;
    if (form.requestSubmit) { form.requestSubmit(b); } else { b.click(); }
    return true;
  }

  var toggle = document.getElementById('toggle-view');
  function toggleView() {
    var svg = document.getElementById('work-view'), g = document.getElementById('work-g');
    if (!svg || !g || !toggle) { return; }
    var t = svg.getAttribute('data-t'), mode = document.getElementById('view-mode');
    if (g.getAttribute('transform')) {
      g.removeAttribute('transform');
      if (mode) { mode.textContent = 'as registered'; }
      toggle.textContent = 'show as the upload shows it (t)';
    } else {
      g.setAttribute('transform', t);
      if (mode) { mode.textContent = 'turned as the upload shows it'; }
      toggle.textContent = 'show as registered (t)';
    }
  }
  if (toggle) { toggle.addEventListener('click', toggleView); }

  var keys = {
    queue: function (k) {
      switch (k) {
        case 'j': select(sel + 1); return true;
        case 'k': select(sel - 1); return true;
        case 'Enter': case 'o': if (sel >= 0) { go(rows[sel].getAttribute('data-href')); return true; } return false;
        case 'n': go(link('next-page')); return true;
      }
      return false;
    },
    'case': function (k) {
      switch (k) {
        case 'c': case 'd': case 'l': return decide(k);
        case 'j': go(link('next-case')); return true;
        case 'k': go(previousCase() || link('queue-link')); return true;
        case 'u': go(link('queue-link')); return true;
        case 't': toggleView(); return true;
        case 'n': var note = document.getElementById('note'); if (note) { note.focus(); return true; } return false;
      }
      if (k >= '1' && k <= '9') {
        var a = document.querySelector('a[data-key="' + k + '"]');
        if (a) { go(a.getAttribute('href')); return true; }
      }
      return false;
    }
  };

  document.addEventListener('keydown', function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) { return; }
    if (typing(e.target)) {
      if (e.key === 'Escape') { e.target.blur(); }
      return;
    }
    if (e.key === '?') {
      if (help) { help.hidden = !help.hidden; }
      e.preventDefault();
      return;
    }
    if (e.key === 'Escape') { if (help) { help.hidden = true; } return; }
    if (busy) { return; }
    var h = keys[page];
    if (h && h(e.key)) { e.preventDefault(); }
  });
}());
