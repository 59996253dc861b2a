// The reference daemon's Node form, still accepted: (req, res, env) with Node's http objects.
module.exports = function handler(req, res, env) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ hello: env.GREETING || 'world', runtime: 'node-http', path: req.url }));
};
