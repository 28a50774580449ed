#!/usr/bin/node
// smtp_server.js HOST PORT: an SMTP server built on the npm `smtp-server`
// package (Nodemailer's; the version pinned in tests/deps/probe.npm) as
// applications embed it: default options but authOptional (no AUTH required
// before MAIL) and a sink for the message data. STARTTLS is offered with the
// package's own self-signed certificate.
'use strict';
const path = require('path');
const tryPaths = [
	process.env.PL_NODE_MODULES,
	path.join(__dirname, 'node_modules-root', 'node_modules'),
	path.join(__dirname, 'node_modules'),
].filter(Boolean);
let mod;
for (const p of tryPaths) {
	try { mod = require(path.join(p, 'smtp-server')); break; } catch (e) { /* next */ }
}
if (!mod)
	mod = require('smtp-server');

const [host, port] = process.argv.slice(2);
const server = new mod.SMTPServer({
	authOptional: true,
	logger: false,
	onData(stream, session, callback) {
		stream.resume();
		stream.on('end', callback);
	},
});
server.on('error', function () { /* a client's error: keep serving */ });
server.listen(Number(port), host);
