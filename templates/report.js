// The identity table and detail of the anchorscan report. Directory data is
// attacker-controlled: every value reaches the page through textContent or
// a text node, never through innerHTML or an attribute that runs code.
(function () {
  'use strict';

  // A row's fields, in step with the row* constants in report/view.go.
  // A string field may hold a number instead: the index of an earlier
  // top-level field of the same row holding the same string.
  var UPN = 0, NAME = 1, SCEN = 2, SEV = 3, DOM = 4, SRC = 5, ENTRA_ID = 6, OKTA_ID = 7,
    AD_GUID = 8, AD_DN = 9, E = 10, S = 11, FLAGS = 12, NAD = 13, EXPECTED = 14, DETAIL = 15;
  // The detail is a JSON string per row, parsed when the identity is opened:
  // parsing every detail up front would delay the table.
  var EXPL = 0, AD = 1, OKTA = 2, ENTRA = 3, LINKS = 4, DECODED = 5, STEPS = 6;
  var FEDERATED = 1, ASSIGNED = 2, SYNC = 4;
  var ROW_H = 28, OVERSCAN = 10, PRINT_MAX = 3000;

  var data, rows;
  var view = [];          // indexes of rows after filter and sort
  var haystack = null;    // lower-case search text per row, built on first search
  var sortKey = '', sortDir = 1;
  var selected = -1;
  var $ = function (id) { return document.getElementById(id); };

  function str(row, v) {
    return typeof v === 'number' ? row[v] : (v == null ? '' : v);
  }
  function field(row, i) { return str(row, row[i]); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text != null && text !== '') { e.textContent = text; }
    return e;
  }

  function load() {
    performance.mark('anchorscan-start');
    var node = $('data');
    var text = node.textContent;
    if (node.getAttribute('data-encoding') !== 'gzip-base64') {
      return Promise.resolve(JSON.parse(text));
    }
    var bytes;
    if (typeof Uint8Array.fromBase64 === 'function') {
      bytes = Uint8Array.fromBase64(text.trim());
    } else {
      var bin = atob(text.trim());
      bytes = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    }
    performance.mark('anchorscan-b64');
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Response(stream).arrayBuffer().then(function (buf) {
      performance.mark('anchorscan-inflated');
      return JSON.parse(new TextDecoder().decode(buf));
    });
  }

  function fillSelect(id, values) {
    var sel = $(id);
    values.forEach(function (v, i) {
      var o = el('option', '', v === '' ? '(none)' : v);
      o.value = String(i);
      o.setAttribute('data-name', v);
      sel.appendChild(o);
    });
  }

  // selectIndex reads a filter: "" for all, otherwise the table index.
  function selectIndex(id) {
    var v = $(id).value;
    return v === '' ? -1 : Number(v);
  }

  function buildHaystack() {
    haystack = new Array(rows.length);
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var parts = [field(r, UPN), field(r, NAME), field(r, ENTRA_ID), field(r, OKTA_ID), field(r, AD_GUID),
        field(r, AD_DN), field(r, E), field(r, S)];
      (r[EXPECTED] || []).forEach(function (x) { parts.push(str(r, x)); });
      haystack[i] = parts.join('\u0000').toLowerCase();
    }
  }

  function applyFilters() {
    var q = $('q').value.trim().toLowerCase();
    var fs = selectIndex('f-scenario'), fv = selectIndex('f-severity'),
      fd = selectIndex('f-domain'), fo = selectIndex('f-sources');
    if (q && !haystack) { buildHaystack(); }
    var out = [];
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      if (fs >= 0 && r[SCEN] !== fs) { continue; }
      if (fv >= 0 && r[SEV] !== fv) { continue; }
      if (fd >= 0 && r[DOM] !== fd) { continue; }
      if (fo >= 0 && r[SRC] !== fo) { continue; }
      if (q && haystack[i].indexOf(q) < 0) { continue; }
      out.push(i);
    }
    view = out;
    sortView();
    var count = $('count');
    count.textContent = view.length.toLocaleString('en-US') + ' of ' + rows.length.toLocaleString('en-US') + ' identities';
    count.setAttribute('data-shown', String(view.length));
    count.setAttribute('data-query', q); // lets a test wait until a search has been applied
    $('viewport').scrollTop = 0;
    render(true);
  }

  var sortValue = {
    upn: function (r) { return field(r, UPN).toLowerCase(); },
    name: function (r) { return field(r, NAME).toLowerCase(); },
    scenario: function (r) { return r[SCEN]; },
    severity: function (r) { return r[SEV]; },
    domain: function (r) { return data.domains[r[DOM]]; },
    sources: function (r) { return data.sourceSets[r[SRC]]; },
    e: function (r) { return field(r, E); },
    s: function (r) { return field(r, S); }
  };

  function sortView() {
    if (!sortKey) { return; }
    var key = sortValue[sortKey];
    var vals = new Array(rows.length);
    view.forEach(function (i) { vals[i] = key(rows[i]); });
    view.sort(function (a, b) {
      var x = vals[a], y = vals[b];
      if (x < y) { return -sortDir; }
      if (x > y) { return sortDir; }
      return a - b; // stable: the classifier's order
    });
  }

  function onSort(ev) {
    var btn = ev.target.closest('button[data-sort]');
    if (!btn) { return; }
    var key = btn.getAttribute('data-sort');
    sortDir = (sortKey === key) ? -sortDir : 1;
    sortKey = key;
    document.querySelectorAll('.thead button[data-sort]').forEach(function (b) {
      b.removeAttribute('aria-sort');
    });
    btn.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending');
    sortView();
    render(true);
  }

  var rendered = { start: -1, end: -1 };

  function render(force) {
    var vp = $('viewport');
    $('spacer').style.height = (view.length * ROW_H) + 'px';
    var start = Math.max(0, Math.floor(vp.scrollTop / ROW_H) - OVERSCAN);
    var end = Math.min(view.length, Math.ceil((vp.scrollTop + vp.clientHeight) / ROW_H) + OVERSCAN);
    if (!force && start === rendered.start && end === rendered.end) { return; }
    rendered = { start: start, end: end };
    var win = $('window');
    win.style.transform = 'translateY(' + (start * ROW_H) + 'px)';
    var frag = document.createDocumentFragment();
    for (var k = start; k < end; k++) {
      frag.appendChild(rowElement(view[k]));
    }
    win.replaceChildren(frag);
  }

  function rowElement(i) {
    var r = rows[i];
    var d = el('div', 'row');
    d.setAttribute('role', 'row');
    d.setAttribute('tabindex', '0');
    d.setAttribute('data-i', String(i));
    if (i === selected) { d.classList.add('selected'); }
    var upn = el('span', '', field(r, UPN)); upn.title = field(r, UPN); d.appendChild(upn);
    d.appendChild(el('span', '', field(r, NAME)));
    d.appendChild(el('span', 'mono', data.scenarios[r[SCEN]]));
    var sev = data.severities[r[SEV]];
    var sv = el('span'); sv.appendChild(el('span', 'badge sev-' + cssName(sev), sev)); d.appendChild(sv);
    d.appendChild(el('span', '', data.domains[r[DOM]]));
    d.appendChild(el('span', '', data.sourceSets[r[SRC]]));
    d.appendChild(el('span', 'anchor', field(r, E)));
    d.appendChild(el('span', 'anchor', field(r, S)));
    Array.prototype.forEach.call(d.children, function (c) { c.setAttribute('role', 'cell'); });
    return d;
  }

  // cssName keeps a class name to the characters a severity code has.
  function cssName(s) { return String(s).replace(/[^a-z0-9-]/gi, ''); }

  function onRowActivate(ev) {
    if (ev.type === 'keydown' && ev.key !== 'Enter') { return; }
    var rowEl = ev.target.closest('.row');
    if (!rowEl) { return; }
    showDetail(Number(rowEl.getAttribute('data-i')));
  }

  // ----- detail -----

  function dl(pairs) {
    var list = el('dl');
    pairs.forEach(function (p) {
      if (p[1] === '' || p[1] == null) { return; }
      list.appendChild(el('dt', '', p[0]));
      list.appendChild(el('dd', '', String(p[1])));
    });
    return list;
  }

  function yesNo(v) { return v ? 'yes' : 'no'; }

  function appLabel(i) {
    var a = data.apps[i] || ['', '', ''];
    return (a[1] || a[2] || 'app') + ' (' + a[0] + ')';
  }

  function sourceBox(title, build) {
    var box = el('section', 'source');
    box.appendChild(el('h3', '', title));
    if (!build(box)) { box.appendChild(el('p', 'none', 'No record in this source.')); }
    return box;
  }

  function adBox(r, d) {
    return sourceBox('Active Directory', function (box) {
      var recs = d[AD] || [];
      recs.forEach(function (a, n) {
        if (recs.length > 1) { box.appendChild(el('h4', '', 'AD object ' + (n + 1) + ' of ' + recs.length)); }
        box.appendChild(dl([
          ['DN', str(r, a[0])], ['objectGUID', str(r, a[1])], ['objectGUID (base64)', str(r, a[2])],
          ['ConsistencyGuid', str(r, a[3])], ['ConsistencyGuid (base64)', str(r, a[4])],
          ['objectSid', a[5]], ['UPN', str(r, a[6])], ['sAMAccountName', a[7]], ['mail', str(r, a[8])],
          ['userAccountControl', String(a[9])], ['domain', a[10]], ['whenChanged', a[11]]
        ]));
      });
      return recs.length > 0;
    });
  }

  function oktaBox(r, d) {
    return sourceBox('Okta', function (box) {
      var o = d[OKTA];
      if (!o) { return false; }
      box.appendChild(dl([['id', field(r, OKTA_ID)], ['login', str(r, o[0])], ['email', str(r, o[1])],
        ['status', o[2]], ['name', [o[3], o[4]].join(' ').trim()]]));
      (o[5] || []).forEach(function (a) {
        box.appendChild(el('h4', '', 'O365 app user · ' + appLabel(a[0])));
        box.appendChild(dl([['status', a[1]], ['immutableId', str(r, a[2]) || '(empty)'], ['externalId', str(r, a[3])],
          ['userName', str(r, a[4])], ['syncState', a[5]], ['licenses', a[6]], ['roles', a[7]]]));
      });
      if (!(o[5] || []).length) { box.appendChild(el('p', 'none', 'Not assigned to Office 365.')); }
      (o[6] || []).forEach(function (a) {
        box.appendChild(el('h4', '', 'AD app user · ' + appLabel(a[0])));
        box.appendChild(dl([['status', a[1]], ['externalId', str(r, a[2])], ['userName', str(r, a[3])]]));
      });
      return true;
    });
  }

  function entraBox(r, d) {
    return sourceBox('Entra ID', function (box) {
      var e = d[ENTRA];
      if (!e) { return false; }
      box.appendChild(dl([['id', field(r, ENTRA_ID)], ['UPN', str(r, e[0])], ['displayName', str(r, e[1])],
        ['mail', str(r, e[2])], ['accountEnabled', yesNo(e[3])], ['userType', e[4]],
        ['onPremisesImmutableId', str(r, e[5]) || '(empty)'], ['onPremisesSyncEnabled', yesNo(e[6])],
        ['onPremisesSecurityIdentifier', e[7]], ['onPremisesDistinguishedName', str(r, e[8])],
        ['onPremisesSamAccountName', e[9]], ['creationType', e[10]]]));
      return true;
    });
  }

  function decodedTable(r, det) {
    var t = el('table', 'decoded');
    var head = el('tr');
    ['Value', 'Stands for GUID', 'Read as'].forEach(function (h) { head.appendChild(el('th', '', h)); });
    t.appendChild(el('thead')).appendChild(head);
    var body = t.appendChild(el('tbody'));
    (det[DECODED] || []).forEach(function (d) {
      var value = str(r, d[0]);
      var cands = d[1] || [];
      if (!cands.length) {
        var tr = el('tr');
        tr.appendChild(el('td', '', value));
        tr.appendChild(el('td', '', '—'));
        tr.appendChild(el('td', '', d[2] >= 0 ? data.notes[d[2]] : ''));
        body.appendChild(tr);
        return;
      }
      cands.forEach(function (c, n) {
        var tr = el('tr');
        tr.appendChild(el('td', '', n === 0 ? value : ''));
        tr.appendChild(el('td', 'mono', str(r, c[0])));
        tr.appendChild(el('td', '', c[1].map(function (f) { return data.formats[f][1]; }).join('; ')));
        body.appendChild(tr);
      });
    });
    return t;
  }

  var sourceNames = ['okta', 'entra', 'ad', ''];

  function linksList(r, d) {
    var ul = el('ul', 'links');
    (d[LINKS] || []).forEach(function (l) {
      var from = sourceNames[l[0]] + (l[0] < 3 ? ':' : '') + str(r, l[1]);
      var to = sourceNames[l[2]] + (l[2] < 3 ? ':' : '') + str(r, l[3]);
      ul.appendChild(el('li', '', from + ' → ' + to + ' by ' + data.linkKeys[l[4]] + ' (' + str(r, l[5]) + ')'));
    });
    if (!ul.children.length) { ul.appendChild(el('li', 'none', 'No link: the identity has one record.')); }
    return ul;
  }

  function stepsList(d) {
    var steps = d[STEPS];
    if (!steps || !steps.length) { return el('p', 'none', 'No plan steps for this identity.'); }
    var ol = el('ol', 'steps');
    steps.forEach(function (s) {
      var li = el('li', s.manual ? 'manual' : '');
      li.appendChild(el('code', '', s.kind));
      li.appendChild(document.createTextNode(' ' + (s.target ? s.target + ': ' : '') + s.description + (s.manual ? ' (manual)' : '')));
      ol.appendChild(li);
    });
    return ol;
  }

  function showDetail(i) {
    var r = rows[i];
    if (!r) { return; }
    var det = JSON.parse(r[DETAIL]);
    selected = i;
    var pane = $('detail');
    $('detail-h').textContent = field(r, UPN) || '(no UPN)';
    var body = $('detail-body');
    var parts = [];
    var sev = data.severities[r[SEV]];
    var meta = el('p');
    meta.appendChild(el('span', 'badge sev-' + cssName(sev), sev));
    meta.appendChild(document.createTextNode(' '));
    meta.appendChild(el('strong', 'mono', data.scenarios[r[SCEN]]));
    var flags = r[FLAGS];
    meta.appendChild(document.createTextNode(' · ' + (field(r, NAME) ? field(r, NAME) + ' · ' : '') +
      (flags & FEDERATED ? 'federated domain' : 'managed domain') + ' · ' +
      (flags & ASSIGNED ? 'assigned to O365 in Okta' : 'not assigned to O365') +
      (flags & SYNC ? ' · synced by Entra Connect' : '') + ' · AD sources in Okta: ' + r[NAD]));
    parts.push(meta);
    var expl = el('p', 'explanation sev-' + cssName(sev), det[EXPL]);
    parts.push(expl);
    parts.push(el('h3', '', 'Sources'));
    var three = el('div', 'sources3');
    three.appendChild(adBox(r, det));
    three.appendChild(oktaBox(r, det));
    three.appendChild(entraBox(r, det));
    parts.push(three);
    parts.push(el('h3', '', 'Anchors'));
    parts.push(dl([['Entra holds (E)', field(r, E) || '(empty)'], ['Okta sends (S)', field(r, S) || '(empty)'],
      ['Expected (X)', (r[EXPECTED] || []).map(function (x) { return str(r, x); }).join(', ') || '(none)']]));
    parts.push(decodedTable(r, det));
    parts.push(el('h3', '', 'Link evidence'));
    parts.push(linksList(r, det));
    parts.push(el('h3', '', 'Plan steps'));
    parts.push(stepsList(det));
    body.replaceChildren.apply(body, parts);
    pane.hidden = false;
    pane.scrollTop = 0;
    pane.focus();
    render(true);
  }

  function closeDetail() {
    $('detail').hidden = true;
    selected = -1;
    render(true);
  }

  // ----- print -----

  function fillPrint() {
    var body = document.querySelector('#print-table tbody');
    var frag = document.createDocumentFragment();
    var n = Math.min(view.length, PRINT_MAX);
    for (var k = 0; k < n; k++) {
      var r = rows[view[k]];
      var tr = el('tr');
      [field(r, UPN), field(r, NAME), data.scenarios[r[SCEN]], data.severities[r[SEV]], field(r, E), field(r, S)]
        .forEach(function (v) { tr.appendChild(el('td', '', v)); });
      frag.appendChild(tr);
    }
    body.replaceChildren(frag);
    $('print-note').textContent = n < view.length
      ? 'Printed the first ' + n.toLocaleString('en-US') + ' of ' + view.length.toLocaleString('en-US') +
        ' identities in the current filter; filter further to print the rest, or use the workbook.'
      : n.toLocaleString('en-US') + ' identities.';
  }

  // ----- start -----

  function start(d) {
    performance.mark('anchorscan-parsed');
    data = d;
    rows = d.rows;
    view = rows.map(function (_, i) { return i; });
    fillSelect('f-scenario', d.scenarios);
    fillSelect('f-severity', d.severities);
    fillSelect('f-domain', d.domains);
    fillSelect('f-sources', d.sourceSets);
    var timer = 0;
    $('q').addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(applyFilters, 120);
    });
    ['f-scenario', 'f-severity', 'f-domain', 'f-sources'].forEach(function (id) {
      $(id).addEventListener('change', applyFilters);
    });
    $('filters').addEventListener('submit', function (ev) { ev.preventDefault(); applyFilters(); });
    document.querySelector('.thead').addEventListener('click', onSort);
    var vp = $('viewport');
    vp.addEventListener('scroll', function () { render(false); }, { passive: true });
    vp.addEventListener('click', onRowActivate);
    vp.addEventListener('keydown', onRowActivate);
    window.addEventListener('resize', function () { render(true); });
    $('detail-close').addEventListener('click', closeDetail);
    document.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape' && !$('detail').hidden) { closeDetail(); }
    });
    window.addEventListener('beforeprint', fillPrint);
    applyFilters();
    performance.mark('anchorscan-ready');
    document.body.setAttribute('data-ready', 'true');
  }

  load().then(start, function (err) {
    $('count').textContent = 'The identity data could not be read: ' + err;
    throw err;
  });
})();
