#!/usr/bin/node
// smsc.js HOST PORT [SYSTEM_ID PASSWORD]: a minimal SMSC built on the npm
// `smpp` package (tests/deps/probe.npm). Answers enquire_link (also before
// bind, as SMPP v5.0 allows) and bind_transmitter/transceiver/receiver:
// ESME_ROK for the configured credentials, ESME_RINVSYSID or ESME_RINVPASWD
// otherwise. Everything else it leaves to the library (silence for unknown
// input, like the real thing).
'use strict';
const path = require('path');
const tryPaths = [
	process.env.PL_NODE_MODULES,
	path.join(__dirname, 'node_modules-root', 'node_modules'),
	path.join(__dirname, 'node_modules'),
].filter(Boolean);
let smpp;
for (const p of tryPaths) {
	try { smpp = require(path.join(p, 'smpp')); break; } catch (e) { /* next */ }
}
if (!smpp)
	smpp = require('smpp');

const [host, port, sysid = 'smsc', password = 'secret'] = process.argv.slice(2);
const server = smpp.createServer(function (session) {
	session.on('error', function () { session.close(); });
	session.on('enquire_link', function (pdu) { session.send(pdu.response()); });
	const bind = function (pdu) {
		let status = smpp.ESME_ROK;
		if (pdu.system_id !== sysid)
			status = smpp.ESME_RINVSYSID;
		else if (pdu.password !== password)
			status = smpp.ESME_RINVPASWD;
		session.send(pdu.response({ command_status: status }));
		if (status !== smpp.ESME_ROK)
			session.close();
	};
	session.on('bind_transmitter', bind);
	session.on('bind_transceiver', bind);
	session.on('bind_receiver', bind);
	session.on('unbind', function (pdu) { session.send(pdu.response()); session.close(); });
});
server.listen(Number(port), host);
