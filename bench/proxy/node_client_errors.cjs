// Preloaded into the Portkey gateway by compare-proxies.sh (node -r): Node.js answers a request it
// cannot parse with a bare 400 and closes the connection, without a word; this logs why.
'use strict';
const http = require('http');
const emit = http.Server.prototype.emit;
let shown = 0;
http.Server.prototype.emit = function (event, ...args) {
  if (event === 'clientError' && shown < 5) {
    shown += 1;
    const e = args[0] || {};
    const raw = e.rawPacket ? e.rawPacket.toString('latin1').slice(0, 300) : '';
    console.error(`clientError ${e.code}: ${e.message} ${JSON.stringify(raw)}`);
  }
  return emit.call(this, event, ...args);
};
