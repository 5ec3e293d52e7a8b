/**
 * The WMSP requests that do not stream: KeepAlive, the Pipeline test, Log and SendEvent (stored before they are
 * acknowledged), Stop, SelectStream, PlayNextEntry and GetContentInfo. In pipelined mode an answer waits its turn
 * behind the stream running on the same connection (sendRaw), as HTTP wants.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MediaTarget } from '../../contracts/media.js';
import type { PlayerLogReport } from '../../contracts/sessions.js';
import { MssError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { HttpRequestContext } from '../../http/route.js';
import { frameTest, pragmaUint, type ClassifiedRequest, type PragmaTokens } from './codec.js';
import { wmspConnection, type PipelineTest, type WmspSession } from './connection.js';
import { cacheControlOf, featuresOf, pragmaLine, requestedStreams, linkBandwidth, safeUint } from './policy.js';
import { CONTENT_FRAMED, responseHead, retireResponse, sendRaw, whenAttached } from './response.js';

/** how long the second request of a Pipeline test may take (§3.2.5.2) */
const PIPELINE_TEST_MS = 1000;

/** What the request handlers share with the server. */
export interface WmspState {
  readonly log: Logger;
  /** the keep-alive timeout the server announces (Pragma timeout=) */
  readonly announcedTimeoutMs: number;
  readonly maxBodyBytes: number;
  onPlayerLog?(report: PlayerLogReport): Promise<void>;
  sessionFor(pragmas: PragmaTokens): { session: WmspSession; reset: boolean };
  session(id: number | undefined): WmspSession | undefined;
}

export function simpleResponse(state: WmspState, req: IncomingMessage, res: ServerResponse, c: ClassifiedRequest, status: number, session?: WmspSession, extraPragma: string[] = []): void {
  const s = session ?? state.sessionFor(c.pragmas).session;
  const keep = req.httpVersion === '1.1' && wmspConnection(req.socket).streaming !== null;
  const head = responseHead({ status, version: keep ? '1.1' : '1.0', contentLength: 0, pragma: [pragmaLine(s.id, state.announcedTimeoutMs, false, null), ...extraPragma], keepAlive: keep });
  sendRaw(res, req.socket, head, [], !keep);
}

export function keepAlive(state: WmspState, req: IncomingMessage, res: ServerResponse, c: ClassifiedRequest, pipelined: boolean): void {
  const { session, reset } = state.sessionFor(c.pragmas);
  session.lastSeen = Date.now();
  const keep = pipelined && req.httpVersion === '1.1';
  const head = responseHead({
    version: keep ? '1.1' : '1.0',
    contentLength: 0,
    pragma: [pragmaLine(session.id, state.announcedTimeoutMs, reset, null)],
    keepAlive: keep,
    extra: pipelined ? { Public: 'GET, POST, OPTIONS', Allow: 'GET, POST, OPTIONS' } : {},
  });
  sendRaw(res, req.socket, head, [], !keep);
}

/**
 * Pipeline test (§3.2.5.2): the first request gets a chunked $T and no last chunk; if the second request arrives
 * within a second, the first response is finished and the second answered on the same connection (pipelining
 * works), else the first response is finished by the timer. The connection keeps its idle timeout throughout.
 */
export function pipelineTest(state: WmspState, req: IncomingMessage, res: ServerResponse, c: ClassifiedRequest): void {
  const socket = req.socket;
  const conn = wmspConnection(socket);
  const { session } = state.sessionFor(c.pragmas);
  const line = pragmaLine(session.id, state.announcedTimeoutMs, false, null);
  if (!conn.pipelineTest) {
    const t = frameTest();
    const head = responseHead({ version: '1.1', contentType: CONTENT_FRAMED, pragma: [line, 'pipeline-experiment=1'], chunked: true, keepAlive: true });
    whenAttached(res, () => {
      if (socket.destroyed) return;
      socket.write(head);
      socket.write(Buffer.concat([Buffer.from(`${t.length.toString(16)}\r\n`), t, Buffer.from('\r\n')]));
    });
    const test: PipelineTest = {
      timer: null,
      finish: () => {
        if (test.timer) clearTimeout(test.timer);
        test.timer = null;
        whenAttached(res, () => {
          if (!socket.destroyed) socket.write('0\r\n\r\n');
          retireResponse(res);
        });
      },
    };
    test.timer = setTimeout(test.finish, PIPELINE_TEST_MS);
    test.timer.unref();
    socket.once('close', () => test.timer && clearTimeout(test.timer));
    conn.pipelineTest = test;
    return;
  }
  const test = conn.pipelineTest;
  conn.pipelineTest = undefined;
  const inTime = test.timer !== null;
  test.finish();
  if (inTime) sendRaw(res, socket, responseHead({ status: 204, version: '1.1', pragma: [line, 'pipeline-result=1'], keepAlive: true, contentLength: 0 }), [], false);
  else sendRaw(res, socket, responseHead({ status: 204, version: '1.0', pragma: [line, 'pipeline-result=0'], contentLength: 0 }));
}

/** a player's log, stored before it is acknowledged (a malformed log gets the store's refusal: 400, a flood 429) */
export async function logRequest(state: WmspState, req: IncomingMessage, res: ServerResponse, c: ClassifiedRequest, target: MediaTarget, ctx: HttpRequestContext): Promise<void> {
  const body = await ctx.readBody(state.maxBodyBytes);
  const clientId = safeUint(c.pragmas, 'client-id');
  await state.onPlayerLog?.({
    protocol: 'wmsp',
    remoteAddress: ctx.remoteAddress,
    url: req.url ?? '/',
    point: target.point,
    userAgent: String(req.headers['user-agent'] ?? ''),
    clientId,
    contentType: req.headers['content-type'],
    body,
    logLine: c.pragmas.get('log-line'),
    receivedAt: Date.now(),
  });
  simpleResponse(state, req, res, c, 204, state.session(clientId));
}

/** remote events; a remote-log event (type 30) carries a rendering log and is stored like a Log request */
export async function sendEvent(state: WmspState, req: IncomingMessage, res: ServerResponse, c: ClassifiedRequest, target: MediaTarget, ctx: HttpRequestContext): Promise<void> {
  const body = await ctx.readBody(state.maxBodyBytes);
  const clientId = safeUint(c.pragmas, 'client-id');
  if (/<XML>/i.test(body.toString('latin1'))) {
    await state.onPlayerLog?.({ protocol: 'wmsp', remoteAddress: ctx.remoteAddress, url: req.url ?? '/', point: target.point, userAgent: String(req.headers['user-agent'] ?? ''), clientId, contentType: req.headers['content-type'], body, receivedAt: Date.now() });
  }
  simpleResponse(state, req, res, c, 204, state.session(clientId));
}

export function stopRequest(state: WmspState, req: IncomingMessage, res: ServerResponse, c: ClassifiedRequest): void {
  const id = pragmaUint(c.pragmas, 'client-id');
  const session = state.session(id);
  if (!session) throw new MssError('not-found', `Stop: unknown client-id ${id ?? '(none)'}`);
  const play = session.play;
  session.play = null;
  // ending the play writes the last chunk of its response; the Stop is answered after it
  play?.stop('stopped by the client');
  session.state = 'IDLE';
  // after the stream's last chunk, in its turn
  sendRaw(res, req.socket, responseHead({ version: '1.1', contentLength: 0, pragma: [pragmaLine(session.id, state.announcedTimeoutMs, false, null)], keepAlive: true }), [], false);
}

export async function selectStream(state: WmspState, req: IncomingMessage, res: ServerResponse, c: ClassifiedRequest, target: MediaTarget): Promise<void> {
  const id = pragmaUint(c.pragmas, 'client-id');
  const session = state.session(id);
  if (!session) throw new MssError('not-found', `SelectStream: unknown client-id ${id ?? '(none)'}`);
  const info = await target.describe();
  session.selection = target.chooseStreams(info, requestedStreams(c.pragmas, info), linkBandwidth(c.pragmas));
  // applies to the running stream too (new streams begin at their next key frame)
  session.play?.selectStreams?.(session.selection);
  simpleResponse(state, req, res, c, 200, session);
}

export async function contentInfo(state: WmspState, req: IncomingMessage, res: ServerResponse, c: ClassifiedRequest, target: MediaTarget): Promise<void> {
  const info = await target.describe();
  const { session } = state.sessionFor(c.pragmas);
  const head = responseHead({ contentLength: 0, pragma: [pragmaLine(session.id, state.announcedTimeoutMs, false, featuresOf(target))], cacheControl: cacheControlOf(target, info) });
  sendRaw(res, req.socket, head);
}
