// Sonevakt's one script: live updates. Every page is complete without it.
//
// A page whose <main> carries data-live="topic,topic" listens on /events
// (server-sent events). When a change event names one of its topics, it
// fetches itself again and swaps the content of its live regions (elements
// with an id and data-live-region) for the fresh ones. Filters live in the
// URL and outside the regions, so they stay as the user left them.
'use strict';

(function () {
  var main = document.querySelector('main[data-live]');
  var root = document.documentElement;
  if (!main || !window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  var wanted = main.getAttribute('data-live').split(',').map(function (s) {
    return s.trim();
  }).filter(Boolean);
  if (wanted.length === 0) {
    return;
  }

  var texts = null;       // status texts from the hello event
  var statusEl = null;    // the status line, made on the first hello
  var source = null;      // the EventSource
  var helloSeen = false;  // a hello came before: the next one is a reconnect
  var stopped = false;    // logged out: no more fetching
  var timer = 0;          // debounce
  var inFlight = false;   // one fetch at a time …
  var queued = false;     // … and at most one more after it
  var missed = false;     // a change came while the tab was hidden
  var refreshes = 0;

  root.dataset.liveConnected = '0';
  root.dataset.liveRefreshes = '0';

  function clock(d) {
    var locale = root.lang === 'en' ? 'en-GB' : 'nb-NO';
    try {
      return d.toLocaleTimeString(locale, {
        timeZone: 'Europe/Oslo', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false
      });
    } catch (e) {
      return d.toTimeString().slice(0, 8);
    }
  }

  // show puts one of the hello texts (connected, updated, offline, stopped) in the
  // status line.
  function show(state) {
    if (!texts || !texts[state]) {
      return;
    }
    if (!statusEl) {
      statusEl = document.createElement('p');
      statusEl.id = 'live-status';
      statusEl.className = 'live-status';
      statusEl.setAttribute('role', 'status');
      statusEl.setAttribute('aria-live', 'polite');
      main.insertBefore(statusEl, main.firstChild);
    }
    statusEl.textContent = texts[state].replace('{time}', clock(new Date()));
    statusEl.setAttribute('data-state', state);
  }

  function setConnected(on) {
    root.dataset.liveConnected = on ? '1' : '0';
  }

  function stop() {
    stopped = true;
    clearTimeout(timer);
    if (source) {
      source.close();
    }
    setConnected(false);
    show('stopped');
  }

  function schedule() {
    if (stopped) {
      return;
    }
    if (document.hidden) {
      missed = true;
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(refresh, 200);
  }

  function refresh() {
    if (stopped) {
      return;
    }
    if (inFlight) {
      queued = true;
      return;
    }
    inFlight = true;
    fetch(location.href, {
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'X-Requested-With': 'sonevakt-live' }
    }).then(function (res) {
      if (res.redirected && new URL(res.url).pathname === '/login') {
        stop();
        return null;
      }
      return res.ok ? res.text() : null;
    }).then(function (html) {
      if (html !== null && !stopped) {
        swap(html);
      }
    }).catch(function () {
      // The network is down; the event stream says so and reconnects.
    }).then(function () {
      inFlight = false;
      if (queued) {
        queued = false;
        refresh();
      }
    });
  }

  // swap replaces the live regions' content with that of the fetched page,
  // leaving focus alone when it is outside them and putting it back on the
  // same element (by id, or a link by its address) when it was inside.
  function swap(html) {
    var doc = new DOMParser().parseFromString(html, 'text/html');
    var active = document.activeElement;
    var regions = main.querySelectorAll('[data-live-region][id]');
    for (var i = 0; i < regions.length; i++) {
      var region = regions[i];
      var fresh = doc.getElementById(region.id);
      if (!fresh || !fresh.hasAttribute('data-live-region') || fresh.innerHTML === region.innerHTML) {
        continue;
      }
      var inside = active && active !== document.body && region.contains(active);
      var focusId = inside ? active.id : '';
      var focusHref = inside && active.tagName === 'A' ? active.getAttribute('href') : '';
      region.innerHTML = fresh.innerHTML;
      if (inside) {
        var again = focusId ? document.getElementById(focusId) : null;
        if (!again && focusHref) {
          var links = region.querySelectorAll('a[href]');
          for (var j = 0; j < links.length && !again; j++) {
            if (links[j].getAttribute('href') === focusHref) {
              again = links[j];
            }
          }
        }
        if (again) {
          again.focus({ preventScroll: true });
        }
      }
    }
    refreshes++;
    root.dataset.liveRefreshes = String(refreshes);
    show('updated');
  }

  function onHello(ev) {
    try {
      texts = JSON.parse(ev.data);
    } catch (e) {
      texts = null;
    }
    setConnected(true);
    show('connected');
    if (helloSeen) {
      schedule(); // changes may have come while the stream was down
    }
    helloSeen = true;
  }

  function onChange(ev) {
    var topics = [];
    try {
      topics = JSON.parse(ev.data).topics || [];
    } catch (e) {
      return;
    }
    for (var i = 0; i < topics.length; i++) {
      if (wanted.indexOf(topics[i]) >= 0) {
        schedule();
        return;
      }
    }
  }

  function connect() {
    if (stopped) {
      return;
    }
    source = new EventSource('/events');
    source.addEventListener('hello', onHello);
    source.addEventListener('change', onChange);
    source.addEventListener('error', function () {
      setConnected(false);
      show('offline');
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (the server refused, or the session ended):
        // try again later; a refresh then notices a logout.
        setTimeout(function () {
          if (!stopped) {
            connect();
            schedule();
          }
        }, 15000);
      }
    });
  }

  document.addEventListener('visibilitychange', function () {
    if (!document.hidden && missed) {
      missed = false;
      schedule();
    }
  });
  window.addEventListener('pagehide', function () {
    if (source) {
      source.close();
    }
  });
  window.addEventListener('pageshow', function (ev) {
    if (ev.persisted) { // back from the page cache: the stream was closed
      helloSeen = true;
      connect();
    }
  });

  connect();
}());
