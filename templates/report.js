// The identity table and detail of the anchorscan report. Directory data is
// attacker-controlled: every value reaches the page through textContent or
// a text node, never through innerHTML or an attribute that runs code.
(function () {
  'use strict';

  // The data comes in three blocks (see IdentityData in report/view.go):
  // the table's columns, drawn as soon as they are read; the search
  // columns; and one JSON line of detail per row, parsed when the row is
  // opened. A string value may hold a number instead: the number of
  // another of the row's string fields holding the same string.
  var UPN = 0, NAME = 1, E = 2, S = 3, ENTRA_ID = 4, OKTA_ID = 5, AD_GUID = 6, AD_DN = 7, DOMAIN = 8;
  var EXPL = 0, AD = 1, OKTA = 2, ENTRA = 3, LINKS = 4, DECODED = 5, STEPS = 6, FLAGS = 7, NAD = 8;
  var FEDERATED = 1, ASSIGNED = 2, SYNC = 4;
  // A decoded GUID the script computes from the value's base64 bytes.
  var GUID_LE = -1, GUID_BE = -2;
  var ROW_H = 28, OVERSCAN = 10, PRINT_MAX = 3000;

  var data;               // the table block
  var n = 0;              // identities
  var cols = [];          // the string fields' columns, by field number
  var search = null;      // the search block, once read
  var lookup = null;      // the detail block's tables, once read
  var detailText = '', lineStarts = null;
  var searchReady, detailReady; // promises of the lazy blocks
  var view = [];          // indexes of rows after filter and sort
  var haystack = null;    // lower-case search text per row, built on first search
  var sortKey = '', sortDir = 1;
  var selected = -1;
  var drawn = false;      // whether the first rows have been drawn
  var $ = function (id) { return document.getElementById(id); };

  // str reads a string value of row i: the string, or the field it names.
  function str(i, v) {
    return typeof v === 'number' ? field(i, v) : (v == null ? '' : v);
  }
  function field(i, k) {
    if (k === DOMAIN) { return data.domains[data.domain[i]]; }
    var c = cols[k];
    return c ? str(i, c[i]) : '';
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text != null && text !== '') { e.textContent = text; }
    return e;
  }

  // blockText returns a data block's text, inflating it when compressed.
  function blockText(id) {
    var node = $(id);
    var text = node.textContent;
    if (node.getAttribute('data-encoding') !== 'gzip-base64') {
      return Promise.resolve(text);
    }
    var bytes;
    if (typeof Uint8Array.fromBase64 === 'function') {
      bytes = Uint8Array.fromBase64(text.trim());
    } else {
      var bin = atob(text.trim());
      bytes = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    }
    node.textContent = ''; // the browser need not keep both forms
    // One write and a read loop rather than a Blob's stream: the data is
    // inflated in one go and read back in microtasks, so the HTML parser
    // does not get to run between chunks and slow the table down.
    var ds = new DecompressionStream('gzip');
    var writer = ds.writable.getWriter();
    writer.write(bytes);
    writer.close();
    var reader = ds.readable.getReader();
    var chunks = [], size = 0;
    function next(r) {
      if (r.done) {
        var all = new Uint8Array(size), at = 0;
        chunks.forEach(function (c) { all.set(c, at); at += c.length; });
        return new TextDecoder().decode(all);
      }
      chunks.push(r.value);
      size += r.value.length;
      return reader.read().then(next);
    }
    return reader.read().then(next);
  }

  // detailOf returns the parsed detail of row i: line i+1 of the block.
  function detailOf(i) {
    if (!lineStarts) {
      lineStarts = new Int32Array(n + 2);
      var at = 0;
      for (var k = 0; k <= n; k++) {
        lineStarts[k] = at;
        var nl = detailText.indexOf('\n', at);
        at = nl < 0 ? detailText.length + 1 : nl + 1;
      }
      lineStarts[n + 1] = at;
    }
    return JSON.parse(detailText.slice(lineStarts[i + 1], lineStarts[i + 2] - 1));
  }

  // guidFromBase64 reads a value's base64 (either alphabet, padding
  // optional) as 16 bytes and writes them as a GUID, in AD/.NET byte order
  // (the first three groups reversed) or in text order. report/view.go's
  // base64GUIDs decides when the report relies on this.
  function guidFromBase64(v, littleEndian) {
    var bin = atob(v.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, ''));
    var order = littleEndian ? [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15]
      : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    var out = '';
    order.forEach(function (b, k) {
      if (k === 4 || k === 6 || k === 8 || k === 10) { out += '-'; }
      out += (0x100 + bin.charCodeAt(b)).toString(16).slice(1);
    });
    return out;
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
    haystack = new Array(n);
    for (var i = 0; i < n; i++) {
      var parts = [field(i, UPN), field(i, NAME), field(i, ENTRA_ID), field(i, OKTA_ID), field(i, AD_GUID),
        field(i, AD_DN), field(i, E), field(i, S)];
      (search.expected[i] || []).forEach(function (x) { parts.push(str(i, x)); });
      haystack[i] = parts.join('\u0000').toLowerCase();
    }
  }

  function applyFilters() {
    var q = $('q').value.trim().toLowerCase();
    if (q && !search) {
      // The search columns are still being read; search when they are.
      $('count').textContent = 'reading the search data…';
      searchReady.then(applyFilters);
      return;
    }
    var fs = selectIndex('f-scenario'), fv = selectIndex('f-severity'),
      fd = selectIndex('f-domain'), fo = selectIndex('f-sources');
    if (q && !haystack) { buildHaystack(); }
    var out = [];
    for (var i = 0; i < n; i++) {
      if (fs >= 0 && data.scenario[i] !== fs) { continue; }
      if (fv >= 0 && data.severity[i] !== fv) { continue; }
      if (fd >= 0 && data.domain[i] !== fd) { continue; }
      if (fo >= 0 && data.sources[i] !== fo) { continue; }
      if (q && haystack[i].indexOf(q) < 0) { continue; }
      out.push(i);
    }
    view = out;
    sortView();
    var count = $('count');
    count.textContent = view.length.toLocaleString('en-US') + ' of ' + n.toLocaleString('en-US') + ' identities';
    count.setAttribute('data-shown', String(view.length));
    count.setAttribute('data-query', q); // lets a test wait until a search has been applied
    $('viewport').scrollTop = 0;
    render(true);
  }

  var sortValue = {
    upn: function (i) { return field(i, UPN).toLowerCase(); },
    name: function (i) { return field(i, NAME).toLowerCase(); },
    scenario: function (i) { return data.scenario[i]; },
    severity: function (i) { return data.severity[i]; },
    domain: function (i) { return data.domains[data.domain[i]]; },
    sources: function (i) { return data.sourceSets[data.sources[i]]; },
    e: function (i) { return field(i, E); },
    s: function (i) { return field(i, S); }
  };

  function sortView() {
    if (!sortKey) { return; }
    var key = sortValue[sortKey];
    var vals = new Array(n);
    view.forEach(function (i) { vals[i] = key(i); });
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
    var d = el('div', 'row');
    d.setAttribute('role', 'row');
    d.setAttribute('tabindex', '0');
    d.setAttribute('data-i', String(i));
    if (i === selected) { d.classList.add('selected'); }
    var upn = el('span', '', field(i, UPN)); upn.title = field(i, UPN); d.appendChild(upn);
    // Lets a test read when chromium painted the first rows (Element Timing).
    if (!drawn) { upn.setAttribute('elementtiming', 'first-row'); }
    d.appendChild(el('span', '', field(i, NAME)));
    d.appendChild(el('span', 'mono', data.scenarios[data.scenario[i]]));
    var sev = data.severities[data.severity[i]];
    var sv = el('span'); sv.appendChild(el('span', 'badge sev-' + cssName(sev), sev)); d.appendChild(sv);
    d.appendChild(el('span', '', data.domains[data.domain[i]]));
    d.appendChild(el('span', '', data.sourceSets[data.sources[i]]));
    d.appendChild(el('span', 'anchor', field(i, E)));
    d.appendChild(el('span', 'anchor', field(i, S)));
    Array.prototype.forEach.call(d.children, function (c) { c.setAttribute('role', 'cell'); });
    return d;
  }

  // cssName keeps a class name to the characters a severity code has.
  function cssName(s) { return String(s).replace(/[^a-z0-9-]/gi, ''); }

  function onRowActivate(ev) {
    if (ev.type === 'keydown' && ev.key !== 'Enter') { return; }
    var rowEl = ev.target.closest('.row');
    if (!rowEl) { return; }
    var i = Number(rowEl.getAttribute('data-i'));
    if (lookup) {
      showDetail(i);
    } else {
      $('detail-h').textContent = 'Reading the detail data…';
      detailReady.then(function () { showDetail(i); });
    }
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

  function appLabel(k) {
    var a = lookup.apps[k] || ['', '', ''];
    return (a[1] || a[2] || 'app') + ' (' + a[0] + ')';
  }

  function sourceBox(title, build) {
    var box = el('section', 'source');
    box.appendChild(el('h3', '', title));
    if (!build(box)) { box.appendChild(el('p', 'none', 'No record in this source.')); }
    return box;
  }

  function adBox(i, d) {
    return sourceBox('Active Directory', function (box) {
      var recs = d[AD] || [];
      recs.forEach(function (a, k) {
        if (recs.length > 1) { box.appendChild(el('h4', '', 'AD object ' + (k + 1) + ' of ' + recs.length)); }
        box.appendChild(dl([
          ['DN', str(i, a[0])], ['objectGUID', str(i, a[1])], ['objectGUID (base64)', str(i, a[2])],
          ['ConsistencyGuid', str(i, a[3])], ['ConsistencyGuid (base64)', str(i, a[4])],
          ['objectSid', a[5]], ['UPN', str(i, a[6])], ['sAMAccountName', a[7]], ['mail', str(i, a[8])],
          ['userAccountControl', String(a[9])], ['domain', a[10]], ['whenChanged', a[11]]
        ]));
      });
      return recs.length > 0;
    });
  }

  function oktaBox(i, d) {
    return sourceBox('Okta', function (box) {
      var o = d[OKTA];
      if (!o) { return false; }
      box.appendChild(dl([['id', field(i, OKTA_ID)], ['login', str(i, o[0])], ['email', str(i, o[1])],
        ['status', o[2]], ['name', [o[3], o[4]].join(' ').trim()]]));
      (o[5] || []).forEach(function (a) {
        box.appendChild(el('h4', '', 'O365 app user · ' + appLabel(a[0])));
        box.appendChild(dl([['status', a[1]], ['immutableId', str(i, a[2]) || '(empty)'], ['externalId', str(i, a[3])],
          ['userName', str(i, a[4])], ['syncState', a[5]], ['licenses', a[6]], ['roles', a[7]]]));
      });
      if (!(o[5] || []).length) { box.appendChild(el('p', 'none', 'Not assigned to Office 365.')); }
      (o[6] || []).forEach(function (a) {
        box.appendChild(el('h4', '', 'AD app user · ' + appLabel(a[0])));
        box.appendChild(dl([['status', a[1]], ['externalId', str(i, a[2])], ['userName', str(i, a[3])]]));
      });
      return true;
    });
  }

  function entraBox(i, d) {
    return sourceBox('Entra ID', function (box) {
      var e = d[ENTRA];
      if (!e) { return false; }
      box.appendChild(dl([['id', field(i, ENTRA_ID)], ['UPN', str(i, e[0])], ['displayName', str(i, e[1])],
        ['mail', str(i, e[2])], ['accountEnabled', yesNo(e[3])], ['userType', e[4]],
        ['onPremisesImmutableId', str(i, e[5]) || '(empty)'], ['onPremisesSyncEnabled', yesNo(e[6])],
        ['onPremisesSecurityIdentifier', e[7]], ['onPremisesDistinguishedName', str(i, e[8])],
        ['onPremisesSamAccountName', e[9]], ['creationType', e[10]]]));
      return true;
    });
  }

  // candidateGUID reads a decoded GUID: computed from the value, or a string.
  function candidateGUID(i, value, g) {
    if (g === GUID_LE || g === GUID_BE) { return guidFromBase64(value, g === GUID_LE); }
    return str(i, g);
  }

  function decodedTable(i, det) {
    var t = el('table', 'decoded');
    var head = el('tr');
    ['Value', 'Stands for GUID', 'Read as'].forEach(function (h) { head.appendChild(el('th', '', h)); });
    t.appendChild(el('thead')).appendChild(head);
    var body = t.appendChild(el('tbody'));
    (det[DECODED] || []).forEach(function (d) {
      var value = str(i, d[0]);
      var cands = d[1] || [];
      if (!cands.length) {
        var tr = el('tr');
        tr.appendChild(el('td', '', value));
        tr.appendChild(el('td', '', '—'));
        tr.appendChild(el('td', '', d[2] >= 0 ? lookup.notes[d[2]] : ''));
        body.appendChild(tr);
        return;
      }
      cands.forEach(function (c, k) {
        var tr = el('tr');
        tr.appendChild(el('td', '', k === 0 ? value : ''));
        tr.appendChild(el('td', 'mono', candidateGUID(i, value, c[0])));
        tr.appendChild(el('td', '', c[1].map(function (f) { return lookup.formats[f][1]; }).join('; ')));
        body.appendChild(tr);
      });
    });
    return t;
  }

  // explanation fills the row's fields into its explanation's template.
  function explanation(i, det) {
    return (lookup.explanations[det[EXPL]] || []).map(function (p) {
      return typeof p === 'number' ? field(i, p) : p;
    }).join('');
  }

  var sourceNames = ['okta', 'entra', 'ad', ''];

  function linksList(i, d) {
    var ul = el('ul', 'links');
    (d[LINKS] || []).forEach(function (l) {
      var from = sourceNames[l[0]] + (l[0] < 3 ? ':' : '') + str(i, l[1]);
      var to = sourceNames[l[2]] + (l[2] < 3 ? ':' : '') + str(i, l[3]);
      ul.appendChild(el('li', '', from + ' → ' + to + ' by ' + lookup.linkKeys[l[4]] + ' (' + str(i, l[5]) + ')'));
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
    if (!(i >= 0 && i < n)) { return; }
    var det = detailOf(i);
    selected = i;
    var pane = $('detail');
    $('detail-h').textContent = field(i, UPN) || '(no UPN)';
    var body = $('detail-body');
    var parts = [];
    var sev = data.severities[data.severity[i]];
    var meta = el('p');
    meta.appendChild(el('span', 'badge sev-' + cssName(sev), sev));
    meta.appendChild(document.createTextNode(' '));
    meta.appendChild(el('strong', 'mono', data.scenarios[data.scenario[i]]));
    var flags = det[FLAGS];
    meta.appendChild(document.createTextNode(' · ' + (field(i, NAME) ? field(i, NAME) + ' · ' : '') +
      (flags & FEDERATED ? 'federated domain' : 'managed domain') + ' · ' +
      (flags & ASSIGNED ? 'assigned to O365 in Okta' : 'not assigned to O365') +
      (flags & SYNC ? ' · synced by Entra Connect' : '') + ' · AD sources in Okta: ' + det[NAD]));
    parts.push(meta);
    parts.push(el('p', 'explanation sev-' + cssName(sev), explanation(i, det)));
    parts.push(el('h3', '', 'Sources'));
    var three = el('div', 'sources3');
    three.appendChild(adBox(i, det));
    three.appendChild(oktaBox(i, det));
    three.appendChild(entraBox(i, det));
    parts.push(three);
    parts.push(el('h3', '', 'Anchors'));
    parts.push(dl([['Entra holds (E)', field(i, E) || '(empty)'], ['Okta sends (S)', field(i, S) || '(empty)'],
      ['Expected (X)', (search.expected[i] || []).map(function (x) { return str(i, x); }).join(', ') || '(none)']]));
    parts.push(decodedTable(i, det));
    parts.push(el('h3', '', 'Link evidence'));
    parts.push(linksList(i, det));
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
    var shown = Math.min(view.length, PRINT_MAX);
    for (var k = 0; k < shown; k++) {
      var i = view[k];
      var tr = el('tr');
      [field(i, UPN), field(i, NAME), data.scenarios[data.scenario[i]], data.severities[data.severity[i]], field(i, E), field(i, S)]
        .forEach(function (v) { tr.appendChild(el('td', '', v)); });
      frag.appendChild(tr);
    }
    body.replaceChildren(frag);
    $('print-note').textContent = shown < view.length
      ? 'Printed the first ' + shown.toLocaleString('en-US') + ' of ' + view.length.toLocaleString('en-US') +
        ' identities in the current filter; filter further to print the rest, or use the workbook.'
      : shown.toLocaleString('en-US') + ' identities.';
  }

  // ----- start -----

  // start draws the table from its block alone, then reads the search and
  // detail blocks, which the parser reaches only after this script.
  function start(text) {
    data = JSON.parse(text);
    n = data.upn.length;
    cols = [data.upn, data.name, data.e, data.s, null, null, null, null];
    performance.mark('anchorscan-table-parsed');
    view = new Array(n);
    for (var i = 0; i < n; i++) { view[i] = i; }
    fillSelect('f-scenario', data.scenarios);
    fillSelect('f-severity', data.severities);
    fillSelect('f-domain', data.domains);
    fillSelect('f-sources', data.sourceSets);
    applyFilters();
    drawn = true;
    performance.mark('anchorscan-first-rows');
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

    var parsed = new Promise(function (resolve) {
      if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', resolve);
      } else {
        resolve();
      }
    }).then(function () {
      // A task of its own, so the first rows are painted before the
      // lazy blocks are decoded.
      return new Promise(function (resolve) { setTimeout(resolve, 0); });
    });
    searchReady = parsed.then(function () { return blockText('search-data'); }).then(function (t) {
      search = JSON.parse(t);
      cols[ENTRA_ID] = search.entraId;
      cols[OKTA_ID] = search.oktaId;
      cols[AD_GUID] = search.adGuid;
      cols[AD_DN] = search.adDn;
      performance.mark('anchorscan-search-ready');
    });
    detailReady = searchReady.then(function () { return blockText('detail-data'); }).then(function (t) {
      var nl = t.indexOf('\n');
      lookup = JSON.parse(nl < 0 ? t : t.slice(0, nl));
      detailText = t;
      performance.mark('anchorscan-detail-ready');
    });
    detailReady.then(function () {
      document.body.setAttribute('data-ready', 'true');
    }, fail);
  }

  function fail(err) {
    $('count').textContent = 'The identity data could not be read: ' + err;
    throw err;
  }

  performance.mark('anchorscan-start');
  blockText('table-data').then(start).catch(fail);
})();
