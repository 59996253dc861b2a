"""The python shim: imports the tenant's app.py and serves it over HTTP/1.1 on a UNIX socket.

Standard library only. Run by the driver as `python3 -I -B -u python.py` inside bubblewrap as the
tenant's own user; the startup configuration arrives as one JSON line on stdin, and the end of
stdin (or SIGTERM) means "stop gracefully".

Two handler forms (app.py):
  - WSGI (the standard): a callable `app` (or `application`). The request body streams through
    wsgi.input (Content-Length or chunked); the response streams out as the iterable yields it.
    environ['webhost.ctx'] = ctx: a dict {'env', 'data_dir', 'project'} that also has ctx.sign(data),
    ctx.receipt(payload) and ctx.quote(data) (the app key, through the daemon's broker).
  - the reference's form: `[async] def handle(method, path, headers, body, env)` returning
    (status, headers, body). `path` is the request target INCLUDING the query string; `headers`
    is a dict with case-insensitive lookups; `body` is the whole request body (bytes). Response
    headers may be a dict (a list value repeats the header) or a list of (name, value) pairs;
    the body may be bytes, str or None. A handle declaring a 6th parameter also gets ctx.
    Coroutines run on one event loop shared by all requests, as in the reference.

Connections are served by threads (at most MAX_CONNECTIONS at a time: threads count against the
tenant's pids limit).
"""

import importlib.util
import json
import os
import signal
import socket
import sys
import threading

# asyncio, inspect and traceback are imported where they are needed: together they cost more
# startup time than everything else here, and most apps need none of them.

PROBE_HEADER = 'x-webhost-probe'
MAX_LINE = 65536
MAX_HEADERS = 100
MAX_CONNECTIONS = 64
IDLE_TIMEOUT = 30.0
DRAIN_LIMIT = 1 << 20
DEPS_DIR = '.python-packages'

REASONS = {
    100: 'Continue', 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 206: 'Partial Content',
    301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified', 307: 'Temporary Redirect',
    308: 'Permanent Redirect', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
    405: 'Method Not Allowed', 409: 'Conflict', 413: 'Payload Too Large', 422: 'Unprocessable Entity',
    429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable',
}
HOP_BY_HOP = {'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer'}


class BadRequest(Exception):
    pass


BROKER_TIMEOUT = 30.0


class BrokerError(Exception):
    """An answer of the daemon's key broker that is not ok (`code` says which: not_attested, rate_limited, ...)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _bytes(data, what):
    if isinstance(data, str):
        return data.encode('utf-8')
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError('%s takes str or bytes' % what)


class Ctx(dict):
    """ctx: a dict {'env', 'data_dir', 'project'} (as before) whose keys also read as attributes, with
    sign/receipt/quote through the daemon's key broker (one JSON line each way on a unix socket).
    Each call blocks its thread for the round trip (a quote on real hardware takes a moment)."""

    def __init__(self, config):
        super().__init__(
            env=dict(config['env']),
            data_dir=config['dataDir'],
            project={'name': config['project']['name'], 'deployment': config['project'].get('deployment')},
        )
        self._broker = config.get('broker')

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)

    def _call(self, op, fields):
        if not self._broker:
            raise BrokerError('broker_unreachable', 'ctx.%s: this instance has no key broker' % op)
        request = dict(fields, op=op)
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.settimeout(BROKER_TIMEOUT)
                s.connect(self._broker)
                s.sendall(json.dumps(request).encode() + b'\n')
                buf = b''
                while b'\n' not in buf:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise OSError('closed without an answer')
                    buf += chunk
            finally:
                s.close()
        except OSError as err:
            raise BrokerError('broker_unreachable', "ctx.%s: the daemon's key broker at %s did not answer (%s)" % (op, self._broker, err))
        answer = json.loads(buf.split(b'\n', 1)[0])
        if not answer.get('ok'):
            raise BrokerError(answer.get('code'), 'ctx.%s: %s' % (op, answer.get('error')))
        return answer

    def sign(self, data):
        """Ed25519 signature of `data` with the project's app key: {'signature', 'public_key'} (hex)."""
        import base64
        r = self._call('sign', {'data': base64.b64encode(_bytes(data, 'ctx.sign')).decode('ascii')})
        return {'signature': r['signature'], 'public_key': r['public_key']}

    def receipt(self, payload):
        """A receipt for `payload` (e.g. the exact response body), signed by the daemon with the app key."""
        import hashlib
        return self._call('receipt', {'payload_sha256': hashlib.sha256(_bytes(payload, 'ctx.receipt')).hexdigest()})['receipt']

    def quote(self, data):
        """A fresh TDX quote binding this deployment, the app key and SHA-256 of `data` (attested projects only)."""
        import hashlib
        r = self._call('quote', {'data_sha256': hashlib.sha256(_bytes(data, 'ctx.quote')).hexdigest()})
        return {k: r[k] for k in ('quote', 'preimage', 'report_data', 'event_log')}


class Lifecycle:
    """Counts in-flight requests so a graceful stop can wait for exactly those."""

    def __init__(self):
        self.stopping = False
        self.inflight = 0
        self.cond = threading.Condition()
        self.listener = None

    def begin(self):
        with self.cond:
            self.inflight += 1

    def end(self):
        with self.cond:
            self.inflight -= 1
            self.cond.notify_all()

    def stop(self):
        self.stopping = True
        if self.listener is not None:
            try:
                self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept() at once
            except OSError:
                pass

    def wait_idle(self):
        with self.cond:
            while self.inflight:
                self.cond.wait(0.5)


life = Lifecycle()


class Headers(dict):
    """A dict of request headers (as the reference passed) whose lookups ignore case."""

    def __init__(self, pairs):
        super().__init__()
        self._keys = {}
        for name, value in pairs:
            key = self._keys.get(name.lower())
            if key is None:
                self._keys[name.lower()] = name
                dict.__setitem__(self, name, value)
            else:
                dict.__setitem__(self, key, dict.__getitem__(self, key) + ', ' + value)

    def _key(self, name):
        return self._keys.get(name.lower(), name) if isinstance(name, str) else name

    def __getitem__(self, name):
        return dict.__getitem__(self, self._key(name))

    def __contains__(self, name):
        return dict.__contains__(self, self._key(name))

    def get(self, name, default=None):
        return dict.get(self, self._key(name), default)


class Body:
    """wsgi.input: the request body, read straight from the connection as the app asks for it."""

    def __init__(self, rfile, length, chunked, before_first_read):
        self.rfile = rfile
        self.remaining = length or 0
        self.chunked = chunked
        self.chunk_left = 0
        self.done = not chunked and not length
        self.before_first_read = before_first_read
        self.pending = b''

    def _next_chunk(self):
        line = self.rfile.readline(MAX_LINE + 1)
        if not line.endswith(b'\n'):
            raise BadRequest('bad chunk size line')
        try:
            size = int(line.split(b';', 1)[0].strip(), 16)
        except ValueError:
            raise BadRequest('bad chunk size')
        if size < 0:
            raise BadRequest('bad chunk size')
        if size == 0:
            while True:  # trailers, ignored
                t = self.rfile.readline(MAX_LINE + 1)
                if t in (b'\r\n', b'\n', b''):
                    break
            self.done = True
            return False
        self.chunk_left = size
        return True

    def _read_some(self, size):
        if self.before_first_read:
            cb, self.before_first_read = self.before_first_read, None
            cb()
        if self.done:
            return b''
        if self.chunked:
            if self.chunk_left == 0 and not self._next_chunk():
                return b''
            data = self.rfile.read1(min(size, self.chunk_left))
            if not data:
                raise BadRequest('connection closed inside the body')
            self.chunk_left -= len(data)
            if self.chunk_left == 0 and self.rfile.readline(3) not in (b'\r\n', b'\n'):
                raise BadRequest('bad chunk end')
            return data
        data = self.rfile.read1(min(size, self.remaining))
        if not data:
            raise BadRequest('connection closed inside the body')
        self.remaining -= len(data)
        if self.remaining == 0:
            self.done = True
        return data

    def read(self, size=-1):
        if size is None or size < 0:
            parts = []
            while True:
                b = self.read(65536)
                if not b:
                    return b''.join(parts)
                parts.append(b)
        if size == 0:
            return b''
        if self.pending:
            data, self.pending = self.pending[:size], self.pending[size:]
            return data
        return self._read_some(size)

    def readline(self, limit=-1):
        out = bytearray()
        while limit is None or limit < 0 or len(out) < limit:
            want = 8192 if limit is None or limit < 0 else min(8192, limit - len(out))
            b = self.read(want)
            if not b:
                break
            i = b.find(b'\n')
            if i >= 0:
                out += b[: i + 1]
                self.pending = b[i + 1:] + self.pending
                break
            out += b
        return bytes(out)

    def readlines(self, hint=-1):
        return list(iter(self.readline, b''))

    def __iter__(self):
        return iter(self.readline, b'')

    def drain(self):
        """Reads what the app left unread, so the connection can serve the next request."""
        total = 0
        self.before_first_read = None  # no 100 Continue for a body nobody wants
        while not self.done and total <= DRAIN_LIMIT:
            b = self.read(65536)
            if not b:
                break
            total += len(b)
        return self.done


class Response:
    """Writes one HTTP/1.1 response: framing (length, chunked or close), head once, body."""

    def __init__(self, conn, method, http11):
        self.conn = conn
        self.method = method
        self.http11 = http11
        self.status = None
        self.headers = None
        self.head_sent = False
        self.chunked = False
        self.close_after = False
        self.no_body = method == 'HEAD'

    def set(self, status, headers):
        code = int(str(status).split(' ', 1)[0])
        if code < 200 or code > 999:
            raise ValueError('bad status %r' % (status,))
        clean = []
        for name, value in headers:
            name, value = str(name), str(value)
            if any(c in name for c in '\r\n:') or '\r' in value or '\n' in value:
                raise ValueError('bad response header %r' % (name,))
            if name.lower() in HOP_BY_HOP:
                if name.lower() == 'connection' and value.strip().lower() == 'close':
                    self.close_after = True
                continue
            clean.append((name, value))
        self.status = status if ' ' in str(status) else '%d %s' % (code, REASONS.get(code, 'Unknown'))
        self.headers = clean
        if code in (204, 304) or code < 200:
            self.no_body = True

    def send_head(self, total=None):
        if self.head_sent:
            return
        self.head_sent = True
        headers = list(self.headers)
        has_length = any(n.lower() == 'content-length' for n, _ in headers)
        if not has_length and not self.no_body:
            if total is not None:
                headers.append(('Content-Length', str(total)))
            elif self.http11:
                headers.append(('Transfer-Encoding', 'chunked'))
                self.chunked = True
            else:
                self.close_after = True
        if self.close_after:
            headers.append(('Connection', 'close'))
        lines = ['HTTP/1.1 ' + self.status] + ['%s: %s' % h for h in headers]
        self.conn.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1'))

    def write(self, data):
        if not self.head_sent:
            self.send_head()
        if not data or self.no_body:
            return
        if self.chunked:
            self.conn.sendall(b'%x\r\n' % len(data))
            self.conn.sendall(data)
            self.conn.sendall(b'\r\n')
        else:
            self.conn.sendall(data)

    def finish(self, total=None):
        self.send_head(total)
        if self.chunked:
            self.conn.sendall(b'0\r\n\r\n')


def error_response(conn, code, text):
    body = text.encode()
    head = 'HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' % (
        code, REASONS.get(code, 'Error'), len(body))
    try:
        conn.sendall(head.encode('latin-1') + body)
    except OSError:
        pass


class Server:
    def __init__(self, config, module):
        self.config = config
        self.ctx = Ctx(config)
        app = getattr(module, 'app', None)
        if not callable(app):
            app = getattr(module, 'application', None)
        handle = getattr(module, 'handle', None)
        if callable(app):
            self.wsgi = app
            self.handle = None
        elif callable(handle):
            import asyncio
            import inspect
            self.wsgi = None
            self.handle = handle
            try:
                self.handle_wants_ctx = len(inspect.signature(handle).parameters) >= 6
            except (TypeError, ValueError):
                self.handle_wants_ctx = False
            self.loop = asyncio.new_event_loop()
            threading.Thread(target=self.loop.run_forever, name='handle-loop', daemon=True).start()
        else:
            raise TypeError('%s must define a WSGI callable `app`, or `async def handle(method, path, headers, body, env)`'
                            % config['entry'])

    # --- one connection -------------------------------------------------------------------

    def serve_connection(self, conn):
        rfile = conn.makefile('rb', buffering=65536)
        try:
            while not life.stopping:
                conn.settimeout(IDLE_TIMEOUT)
                line = rfile.readline(MAX_LINE + 1)
                if not line:
                    break
                if line in (b'\r\n', b'\n'):
                    continue
                conn.settimeout(None)
                life.begin()
                try:
                    keep = self.serve_request(conn, rfile, line)
                finally:
                    life.end()
                if not keep:
                    break
        except (OSError, ValueError):
            pass
        finally:
            try:
                rfile.close()
                conn.close()
            except OSError:
                pass

    def serve_request(self, conn, rfile, line):
        try:
            method, target, version, headers = self.parse_head(rfile, line)
        except BadRequest as err:
            error_response(conn, 400, str(err))
            return False
        http11 = version == 'HTTP/1.1'
        lower = {}
        for name, value in headers:
            lower.setdefault(name.lower(), []).append(value)
        if lower.get(PROBE_HEADER) == ['1']:
            conn.sendall(b'HTTP/1.1 204 No Content\r\n\r\n')
            return True
        connection = ','.join(lower.get('connection', [])).lower()
        keep = ('close' not in connection) if http11 else ('keep-alive' in connection)
        te = ','.join(lower.get('transfer-encoding', [])).lower()
        lengths = set(v.strip() for v in lower.get('content-length', []))
        if te and lengths:
            error_response(conn, 400, 'both Transfer-Encoding and Content-Length')
            return False
        chunked = False
        length = 0
        if te:
            if te.split(',')[-1].strip() != 'chunked':
                error_response(conn, 400, 'unsupported Transfer-Encoding')
                return False
            chunked = True
        elif lengths:
            value = lengths.pop() if len(lengths) == 1 else ''
            if not value.isdigit():
                error_response(conn, 400, 'bad Content-Length')
                return False
            length = int(value)
        expect = ','.join(lower.get('expect', [])).lower() == '100-continue'
        continue_sent = [False]

        def send_continue():
            if expect and http11 and not continue_sent[0]:
                continue_sent[0] = True
                conn.sendall(b'HTTP/1.1 100 Continue\r\n\r\n')

        body = Body(rfile, length, chunked, send_continue)
        res = Response(conn, method, http11)
        try:
            if self.wsgi:
                self.run_wsgi(method, target, version, headers, body, res)
            else:
                self.run_handle(method, target, headers, body, res)
        except BadRequest as err:
            if not res.head_sent:
                error_response(conn, 400, str(err))
            return False
        except OSError:
            return False
        except BaseException:  # the app failed: log it, answer 500 when the head is still ours to send
            import traceback
            traceback.print_exc()
            if not res.head_sent:
                error_response(conn, 500, 'Internal Server Error')
            return False
        if res.close_after or not keep or life.stopping:
            return False
        try:
            return body.drain()
        except (BadRequest, OSError):
            return False

    def parse_head(self, rfile, line):
        if not line.endswith(b'\n'):
            raise BadRequest('request line too long')
        parts = line.decode('latin-1').rstrip('\r\n').split(' ')
        if len(parts) != 3 or not parts[2].startswith('HTTP/1.'):
            raise BadRequest('bad request line')
        method, target, version = parts
        headers = []
        while True:
            h = rfile.readline(MAX_LINE + 1)
            if not h.endswith(b'\n'):
                raise BadRequest('header line too long or connection closed')
            if h in (b'\r\n', b'\n'):
                break
            if len(headers) >= MAX_HEADERS:
                raise BadRequest('too many headers')
            text = h.decode('latin-1').rstrip('\r\n')
            if text[:1] in (' ', '\t'):
                raise BadRequest('folded header lines are not accepted')
            name, sep, value = text.partition(':')
            if not sep or not name or name != name.strip():
                raise BadRequest('bad header line')
            headers.append((name, value.strip(' \t')))
        return method, target, version, headers

    # --- WSGI ----------------------------------------------------------------------------

    def environ(self, method, target, version, headers, body):
        path, _, query = target.partition('?')
        if path.startswith('http://') or path.startswith('https://'):
            path = '/' + path.split('/', 3)[3] if path.count('/') >= 3 else '/'
        from urllib.parse import unquote_to_bytes
        env = {
            'REQUEST_METHOD': method,
            'SCRIPT_NAME': '',
            'PATH_INFO': unquote_to_bytes(path).decode('latin-1'),
            'QUERY_STRING': query,
            'SERVER_NAME': 'localhost',
            'SERVER_PORT': '80',
            'SERVER_PROTOCOL': version,
            'REMOTE_ADDR': '127.0.0.1',
            'REQUEST_URI': target,
            'wsgi.version': (1, 0),
            'wsgi.url_scheme': 'http',
            'wsgi.input': body,
            'wsgi.errors': sys.stderr,
            'wsgi.multithread': True,
            'wsgi.multiprocess': False,
            'wsgi.run_once': False,
            'wsgi.input_terminated': True,
            'webhost.ctx': self.ctx,
        }
        for name, value in headers:
            key = name.upper().replace('-', '_')
            if key == 'CONTENT_TYPE' or key == 'CONTENT_LENGTH':
                env[key] = value
                continue
            if '_' in name:
                continue  # underscores would collide with dashes (header spoofing)
            key = 'HTTP_' + key
            env[key] = env[key] + ',' + value if key in env else value
        host = env.get('HTTP_HOST')
        if host:
            env['SERVER_NAME'] = host.rsplit(':', 1)[0] if not host.endswith(']') else host
        if env.get('HTTP_X_FORWARDED_PROTO', '').lower() == 'https':
            env['wsgi.url_scheme'] = 'https'
        return env

    def run_wsgi(self, method, target, version, headers, body, res):
        def start_response(status, response_headers, exc_info=None):
            if exc_info:
                try:
                    if res.head_sent:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            elif res.status is not None:
                raise AssertionError('start_response called twice without exc_info')
            res.set(status, response_headers)
            return res.write

        result = self.wsgi(self.environ(method, target, version, headers, body), start_response)
        try:
            total = None
            if isinstance(result, (list, tuple)) and res.status is not None and not res.head_sent:
                total = sum(len(c) for c in result)
            for chunk in result:
                if res.status is None:
                    raise AssertionError('the app yielded body data before calling start_response')
                if chunk:
                    if total is not None:
                        res.send_head(total)
                    res.write(bytes(chunk))
            if res.status is None:
                raise AssertionError('the app returned without calling start_response')
            res.finish(total)
        finally:
            close = getattr(result, 'close', None)
            if close:
                close()

    # --- the reference's handle() ----------------------------------------------------------

    def run_handle(self, method, target, headers, body, res):
        args = [method, target, Headers(headers), body.read(), dict(self.config['env'])]
        if self.handle_wants_ctx:
            args.append(self.ctx)
        result = self.handle(*args)
        import asyncio
        import inspect
        if inspect.isawaitable(result):
            result = asyncio.run_coroutine_threadsafe(_await(result), self.loop).result()
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise TypeError('handle() must return (status, headers, body)')
        status, out_headers, out = result
        pairs = []
        items = out_headers.items() if isinstance(out_headers, dict) else (out_headers or [])
        for name, value in items:
            if isinstance(value, (list, tuple)):
                pairs.extend((name, v) for v in value)
            else:
                pairs.append((name, value))
        if out is None:
            data = b''
        elif isinstance(out, str):
            data = out.encode('utf-8')
        elif isinstance(out, (bytes, bytearray, memoryview)):
            data = bytes(out)
        else:
            raise TypeError('handle() must return the body as bytes, str or None')
        res.set(int(status), pairs)
        res.send_head(len(data))
        res.write(data)
        res.finish(len(data))


async def _await(awaitable):
    return await awaitable


def read_config():
    line = sys.stdin.buffer.readline()
    if not line.endswith(b'\n'):
        raise ValueError('stdin closed before the startup configuration arrived')
    config = json.loads(line)
    for key in ('entry', 'socket', 'dataDir'):
        if not isinstance(config.get(key), str) or not config[key]:
            raise ValueError('startup configuration: %s is missing' % key)
    if not isinstance(config.get('env'), dict) or not isinstance(config.get('project'), dict):
        raise ValueError('startup configuration: env or project is missing')
    return config


def load_module(config):
    entry = config['entry']
    source = config.get('source') or os.path.dirname(entry)
    sys.path.insert(0, source)
    deps = os.path.join(source, DEPS_DIR)
    if os.path.isdir(deps):
        sys.path.insert(1, deps)  # installed by prepare(); the app's own modules win
    name = os.path.splitext(os.path.basename(entry))[0] or 'app'
    spec = importlib.util.spec_from_file_location(name, entry)
    if spec is None or spec.loader is None:
        raise ImportError('cannot load %s' % entry)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def watch_stdin():
    try:
        while sys.stdin.buffer.read1(65536):
            pass
    except (OSError, ValueError):
        pass
    life.stop()


def main():
    try:
        config = read_config()
    except Exception as err:  # noqa: BLE001 - anything here is a broken launch
        print('[webhost] bad startup configuration: %s' % err, file=sys.stderr)
        return 70
    # The project env reaches the process env here, not at exec: a project variable such as
    # PYTHONPATH or LD_PRELOAD can then never reconfigure the interpreter or the sandbox launcher.
    for key, value in config['env'].items():
        try:
            os.environ[key] = str(value)
        except (ValueError, OSError) as err:
            print('[webhost] env variable %r could not be set: %s' % (key, err), file=sys.stderr)
    try:
        server = Server(config, load_module(config))
    except BaseException:  # a syntax error, an exception at import, a SystemExit: all are start failures
        import traceback
        traceback.print_exc()
        return 1

    path = config['socket']
    try:
        os.unlink(path)  # a socket left by a crashed predecessor in the same folder
    except OSError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(128)
    listener.settimeout(0.5)  # a stop also wakes accept() itself (Lifecycle.stop)
    life.listener = listener

    threading.Thread(target=watch_stdin, name='stdin', daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: life.stop())
    signal.signal(signal.SIGINT, lambda *_: life.stop())

    slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
    warned = [False]

    def run(conn):
        try:
            server.serve_connection(conn)
        finally:
            slots.release()

    while not life.stopping:
        if not slots.acquire(timeout=0.2):
            continue
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            slots.release()
            continue
        except OSError:
            slots.release()
            if life.stopping:
                break
            raise
        try:
            threading.Thread(target=run, args=(conn,), daemon=True).start()
        except RuntimeError as err:  # out of threads: the pids limit
            slots.release()
            if not warned[0]:
                warned[0] = True
                print('[webhost] cannot start a thread for a connection: %s' % err, file=sys.stderr)
            error_response(conn, 503, 'Service Unavailable')
            conn.close()
    listener.close()
    life.wait_idle()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == '__main__':
    sys.exit(main())
