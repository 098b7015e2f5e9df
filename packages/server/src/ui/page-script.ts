/**
 * The status page's script (GET /ui). Plain ES2020 in a string because it runs in the browser, not
 * in Node: it reads the API with the bearer token the operator typed (kept in sessionStorage for
 * this tab only), polls GET /v1/cluster, and for a chosen tenant reads its balance and events and
 * follows GET /v1/stream (SSE over fetch, since EventSource cannot send an Authorization header),
 * falling back to polling when the stream is not there. Every value from the API reaches the page
 * through textContent or an attribute set by property, never as HTML: tenant ids, metadata and
 * peer URLs are user data. The server's content security policy allows this script by its hash.
 */
export const UI_SCRIPT = String.raw`(function () {
  'use strict';
  var TOKEN_KEY = 'allot-ui-token';
  var TENANT = /^[A-Za-z0-9._:-]{1,128}$/;
  var config = JSON.parse(document.getElementById('allot-ui-config').textContent);
  var token = sessionStorage.getItem(TOKEN_KEY);
  var tenant = null;
  var tenantEpoch = 0;
  var events = [];
  var seen = new Set();
  var eventsFrom = null;
  var streamAbort = null;
  var refreshTimer = null;
  var tenantTimer = null;

  function byId(id) { return document.getElementById(id); }

  /** An element with properties and children; strings become text nodes, never HTML. */
  function h(tag, props, children) {
    var node = document.createElement(tag);
    if (props) Object.keys(props).forEach(function (key) {
      if (key === 'dataset') Object.keys(props.dataset).forEach(function (name) { node.dataset[name] = props.dataset[name]; });
      else node[key] = props[key];
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  function text(value) {
    if (value === null || value === undefined) return '–';
    if (typeof value === 'number') return value.toLocaleString('en-US');
    if (typeof value === 'object') return JSON.stringify(value);
    return String(value);
  }

  function table(headers, rows, numeric) {
    return h('table', null, [
      h('thead', null, [h('tr', null, headers.map(function (title, i) {
        return h('th', { className: numeric && numeric[i] ? 'n' : '' }, [title]);
      }))]),
      h('tbody', null, rows),
    ]);
  }

  function cell(value, className) { return h('td', { className: className || '' }, [text(value)]); }

  function show(id, nodes) { byId(id).replaceChildren.apply(byId(id), nodes); }

  function note(message, className) { return h('p', { className: className || 'note' }, [message]); }

  function setStatus(message, bad) {
    var status = byId('status');
    status.textContent = message;
    status.className = bad ? 'bad' : '';
  }

  function api(path, signal) {
    var sent = token;
    return fetch(path, { headers: { authorization: 'Bearer ' + sent, accept: 'application/json' }, signal: signal })
      .then(function (response) {
        return response.text().then(function (body) {
          var json = null;
          try { json = body === '' ? null : JSON.parse(body); } catch (error) { json = null; }
          // Only a refusal of the token in use now: a late 401 for one replaced meanwhile (several
          // reads were in flight with it) must not forget the new one.
          if (response.status === 401 && sent === token)
            askToken('The token was refused (401): enter another one.');
          return { status: response.status, body: json };
        });
      });
  }

  function errorText(answer) {
    var error = answer.body && answer.body.error;
    return error ? answer.status + ' ' + error.code + ': ' + error.message : 'HTTP ' + answer.status;
  }

  // ---- token -------------------------------------------------------------------------------

  function askToken(message) {
    // Everything that reads with the old token stops; start() picks the tenant up again from the URL.
    stopTenant();
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    byId('token-form').hidden = false;
    byId('token-message').textContent = message || '';
    byId('main').hidden = true;
  }

  byId('token-form').addEventListener('submit', function (submitted) {
    submitted.preventDefault();
    var value = byId('token').value.trim();
    if (value === '') return;
    token = value;
    sessionStorage.setItem(TOKEN_KEY, token);
    byId('token').value = '';
    start();
  });

  byId('forget').addEventListener('click', function () {
    askToken('Token forgotten.');
  });

  // ---- cluster -----------------------------------------------------------------------------

  function renderCluster(view) {
    byId('cluster-name').textContent = view.cluster;
    byId('node-region').textContent = view.region;
    byId('node-origin').textContent = view.origin;
    var peers = view.peers.map(function (peer) {
      var up = peer.connected === true;
      return h('tr', { dataset: { peer: peer.region, link: up ? 'up' : 'down' } }, [
        cell(peer.region),
        h('td', { className: up ? 'up' : 'down' }, [up ? 'up' : 'down']),
        cell(peer.rttMs === null ? null : peer.rttMs.toFixed(1), 'n'),
        cell(peer.lagEvents, 'n'),
        cell(peer.lastHeardMs === null ? null : peer.lastHeardMs, 'n'),
        cell(peer.url, 'url'),
      ]);
    });
    show('peers', peers.length === 0
      ? [note('No peers configured: a single region.')]
      : [table(['region', 'link', 'RTT ms', 'lag events', 'last heard ms ago', 'url'], peers,
        [false, false, true, true, true, false])]);
    var down = view.peers.filter(function (peer) { return peer.connected !== true; }).length;
    byId('links-summary').textContent = view.peers.length === 0 ? '' :
      (view.peers.length - down) + ' of ' + view.peers.length + ' links up';
    byId('links-summary').className = down > 0 ? 'bad' : 'good';
    var vector = Object.keys(view.versionVector).sort().map(function (origin) {
      return h('tr', { dataset: { origin: origin } }, [cell(origin), cell(view.versionVector[origin], 'n')]);
    });
    show('vector', [table(['origin', 'seq'], vector, [false, true])]);
    var stranded = view.stranded.map(function (entry) {
      return h('tr', null, [cell(entry.origin), cell(entry.region), cell(entry.rights, 'n'), cell(entry.held, 'n'),
        cell(entry.tenants, 'n')]);
    });
    show('stranded', stranded.length === 0
      ? [note('None: no lost incarnation holds rights or active holds.')]
      : [table(['origin', 'region', 'rights', 'held', 'tenants'], stranded, [false, false, true, true, true])]);
    var conflicts = (view.grantConflicts || []).map(function (entry) {
      return h('tr', null, [cell(entry.tenant), cell(entry.grantId), cell(entry.winner), cell(entry.loser)]);
    });
    show('conflicts', conflicts.length === 0 ? [note('None.')]
      : [table(['tenant', 'grant', 'stands (origin)', 'revoked (origin)'], conflicts)]);
  }

  function readCluster() {
    if (token === null) return Promise.resolve();
    return api('/v1/cluster').then(function (answer) {
      if (answer.status === 200) {
        renderCluster(answer.body);
        setStatus('Updated ' + new Date().toLocaleTimeString('en-GB') + '.');
      } else if (answer.status !== 401) {
        show('peers', [note('Cannot read the cluster: ' + errorText(answer), 'bad')]);
      }
    }, function (error) {
      setStatus('The node does not answer: ' + error.message, true);
    });
  }

  function pollCluster() {
    readCluster().then(function () { setTimeout(pollCluster, config.pollMs); });
  }

  // ---- tenant ------------------------------------------------------------------------------

  function renderBalance(view) {
    var figures = [['balance', view.balance], ['granted', view.granted], ['debited', view.debited],
      ['refunded', view.refunded], ['expired', view.expired]];
    show('tenant-figures', [h('dl', null, figures.reduce(function (all, pair) {
      return all.concat([h('dt', null, [pair[0]]), h('dd', { dataset: { figure: pair[0] } }, [text(pair[1])])]);
    }, []))]);
    byId('tenant-as-of').textContent = 'as of ' + view.asOf + ' at ' + view.region;
    var regions = Object.keys(view.regions).sort().map(function (region) {
      var line = view.regions[region];
      return h('tr', { dataset: { region: region } }, [cell(region), cell(line.rights, 'n'),
        cell(line.overdraft, 'n'), cell(line.overdraftInUse, 'n')]);
    });
    show('tenant-regions', [table(['region', 'rights', 'overdraft allowed', 'overdraft in use'], regions,
      [false, true, true, true])]);
    var grants = view.grants.map(function (grant) {
      return h('tr', null, [cell(grant.grantId), cell(grant.amount, 'n'), cell(grant.remaining, 'n'),
        cell(grant.priority, 'n'), cell(grant.expiresAt), cell(grant.status)]);
    });
    show('tenant-grants', [table(['grant', 'amount', 'remaining', 'priority', 'expires', 'status'], grants,
      [false, true, true, true, false, false])]);
    var vector = Object.keys(view.versionVector).sort().map(function (origin) {
      return origin + ' ' + view.versionVector[origin];
    }).join(', ');
    byId('tenant-vector').textContent = 'version vector: ' + vector;
  }

  function readBalance(epoch) {
    return api('/v1/tenants/' + encodeURIComponent(tenant) + '/balance').then(function (answer) {
      if (epoch !== tenantEpoch) return;
      if (answer.status === 200) renderBalance(answer.body);
      else {
        show('tenant-figures', [note(answer.status === 404
          ? 'No grant of this tenant is known at this region.' : 'Cannot read the balance: ' + errorText(answer), 'bad')]);
        show('tenant-regions', []);
        show('tenant-grants', []);
        byId('tenant-vector').textContent = '';
        byId('tenant-as-of').textContent = '';
      }
    });
  }

  function refreshBalanceSoon() {
    if (refreshTimer !== null) return;
    var epoch = tenantEpoch;
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      if (epoch === tenantEpoch) readBalance(epoch);
    }, config.refreshDelayMs);
  }

  function eventKey(event) { return event.origin + '/' + event.seq; }

  function addEvents(list) {
    var added = false;
    list.forEach(function (event) {
      if (!event || typeof event.kind !== 'string') return;
      var key = eventKey(event);
      if (seen.has(key)) return;
      seen.add(key);
      events.push(event);
      added = true;
    });
    if (!added) return;
    events.sort(function (a, b) { return a.at < b.at ? -1 : a.at > b.at ? 1 : 0; });
    while (events.length > config.eventsShown) seen.delete(eventKey(events.shift()));
    renderEvents();
  }

  function eventDetail(event) {
    var skip = { origin: 1, seq: 1, hash: 1, kind: 1, tenant: 1, at: 1, amount: 1, metadata: 1 };
    var parts = Object.keys(event).filter(function (key) { return !skip[key]; }).map(function (key) {
      return key + ' ' + text(event[key]);
    });
    if (event.metadata !== undefined) parts.push('metadata ' + JSON.stringify(event.metadata));
    return parts.join(' · ');
  }

  function renderEvents() {
    var rows = events.slice().reverse().map(function (event) {
      return h('tr', { dataset: { kind: event.kind } }, [cell(event.at), cell(event.origin), cell(event.seq, 'n'),
        cell(event.kind), cell(event.amount, 'n'), cell(eventDetail(event), 'detail')]);
    });
    show('tenant-events', rows.length === 0 ? [note('No events of this tenant here yet.')]
      : [table(['at (origin clock)', 'origin', 'seq', 'kind', 'amount', 'details'], rows,
        [false, false, true, false, true, false])]);
  }

  /** Reads event pages from eventsFrom on (at most eventPagesMax), keeping the newest eventsShown. */
  function readEvents(epoch) {
    var pages = 0;
    function page(after) {
      var query = '?limit=' + config.eventsPageLimit + (after === null ? '' : '&after=' + encodeURIComponent(after));
      return api('/v1/tenants/' + encodeURIComponent(tenant) + '/events' + query).then(function (answer) {
        if (epoch !== tenantEpoch) return;
        if (answer.status !== 200) {
          show('tenant-events', [note('Cannot read events: ' + errorText(answer) +
            (answer.status === 403 ? ' (events and the stream need an auditor or admin token)' : ''), 'bad')]);
          return;
        }
        addEvents(answer.body.events);
        if (events.length === 0) renderEvents();
        pages += 1;
        if (answer.body.next !== null) {
          eventsFrom = answer.body.next;
          if (pages < config.eventPagesMax) return page(answer.body.next);
          // A long history: say that these are not the newest yet; later reads go on from here.
          byId('events-note').textContent = 'A long history: shown are the newest of the first ' +
            text(pages * config.eventsPageLimit) + ' events read, and what arrives from now on.';
        } else {
          byId('events-note').textContent = '';
        }
      });
    }
    return page(eventsFrom);
  }

  function setLive(message, bad) {
    var live = byId('live');
    live.textContent = message;
    live.className = bad ? 'bad' : 'muted';
  }

  function pollTenant(epoch) {
    if (epoch !== tenantEpoch) return;
    setLive('polling every ' + config.pollMs / 1000 + ' s (no stream at this node)');
    Promise.all([readBalance(epoch), readEvents(epoch)]).catch(function () {}).then(function () {
      if (epoch === tenantEpoch) tenantTimer = setTimeout(function () { pollTenant(epoch); }, config.pollMs);
    });
  }

  /** Dispatches one server-sent event: ledger events join the list and refresh the balance. */
  function onStreamEvent(name, data, state) {
    var value = null;
    try { value = JSON.parse(data); } catch (error) { return; }
    if (name === 'overflow') {
      if (value && typeof value.cursor === 'string') state.cursor = value.cursor;
      return;
    }
    if (name === 'alert') {
      byId('alerts').prepend(h('li', null, ['alert: balance ' + text(value.balance) + ' below ' +
        text(value.threshold) + ' at ' + text(value.at)]));
      return;
    }
    addEvents([value]);
    refreshBalanceSoon();
  }

  function follow(epoch, state, delayMs) {
    if (epoch !== tenantEpoch) return;
    var controller = new AbortController();
    streamAbort = controller;
    var query = '?tenant=' + encodeURIComponent(tenant) + (state.cursor === null ? '' : '&after=' + encodeURIComponent(state.cursor));
    fetch('/v1/stream' + query, {
      headers: { authorization: 'Bearer ' + token, accept: 'text/event-stream' }, signal: controller.signal,
    }).then(function (response) {
      if (response.status === 404 || response.status === 405 || response.status === 403 || !response.body) {
        // No stream here (an older node, or a token that may not read it): poll instead.
        if (response.body) response.body.cancel();
        pollTenant(epoch);
        return null;
      }
      if (response.status !== 200) throw new Error('stream answered ' + response.status);
      setLive('live from the stream');
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = '';
      var name = 'message', id = null, data = [];
      function read() {
        return reader.read().then(function (chunk) {
          if (chunk.done) throw new Error('stream ended');
          buffer += decoder.decode(chunk.value, { stream: true });
          var lines = buffer.split(/\r\n|\r|\n/);
          buffer = lines.pop();
          lines.forEach(function (line) {
            if (line === '') {
              // An id alone (a heartbeat) moves the resume cursor too.
              if (id !== null) state.cursor = id;
              if (data.length > 0) onStreamEvent(name, data.join('\n'), state);
              name = 'message'; id = null; data = [];
            } else if (line.charAt(0) !== ':') {
              var colon = line.indexOf(':');
              var field = colon < 0 ? line : line.slice(0, colon);
              var value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
              if (field === 'event') name = value;
              else if (field === 'id') id = value;
              else if (field === 'data') data.push(value);
            }
          });
          return read();
        });
      }
      return read();
    }).catch(function (error) {
      if (epoch !== tenantEpoch || controller.signal.aborted) return;
      setLive('stream interrupted (' + error.message + '): reconnecting', true);
      var next = Math.min(config.streamRetryMsMax, delayMs * 2);
      setTimeout(function () {
        readBalance(epoch);
        follow(epoch, state, next);
      }, delayMs);
    });
  }

  function stopTenant() {
    tenantEpoch += 1;
    if (streamAbort !== null) streamAbort.abort();
    streamAbort = null;
    if (tenantTimer !== null) clearTimeout(tenantTimer);
    tenantTimer = null;
  }

  function chooseTenant(next) {
    stopTenant();
    tenant = next;
    events = [];
    seen = new Set();
    eventsFrom = null;
    byId('tenant-name').textContent = tenant;
    byId('tenant').hidden = false;
    byId('alerts').replaceChildren();
    byId('events-note').textContent = '';
    var url = new URL(location.href);
    url.searchParams.set('tenant', tenant);
    history.replaceState(null, '', url.pathname + url.search);
    var epoch = tenantEpoch;
    follow(epoch, { cursor: null }, config.streamRetryMsMin);
    readBalance(epoch);
    readEvents(epoch);
  }

  byId('tenant-form').addEventListener('submit', function (submitted) {
    submitted.preventDefault();
    var value = byId('tenant-input').value.trim();
    if (!TENANT.test(value)) {
      byId('tenant-problem').textContent = 'A tenant id is 1–128 of A–Z a–z 0–9 . _ : -';
      return;
    }
    byId('tenant-problem').textContent = '';
    chooseTenant(value);
  });

  // ---- start -------------------------------------------------------------------------------

  var started = false;
  function start() {
    byId('token-form').hidden = true;
    byId('main').hidden = false;
    var chosen = new URLSearchParams(location.search).get('tenant');
    if (chosen !== null && TENANT.test(chosen)) {
      byId('tenant-input').value = chosen;
      chooseTenant(chosen);
    }
    if (!started) {
      started = true;
      pollCluster();
    } else {
      readCluster();
    }
  }

  if (token === null) askToken('');
  else start();
})();
`;
