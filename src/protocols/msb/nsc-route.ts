/**
 * GET /<point>.nsc: the station file of a point's multicast output, made from what the point broadcasts now. It
 * lists every header the output has sent (with the Format IDs its packets carry), the group, port, TTL, the
 * span, the source address when an interface is configured, the unicast fallback and the web logging URL.
 * Served as application/x-conference (the type Windows servers used), never cached: a stale file would list
 * the wrong headers.
 */
import { hostname } from 'node:os';
import { parseHeaderObject } from '../../asf/header.js';
import { MssError } from '../../core/errors.js';
import type { HttpRoute } from '../../http/route.js';
import { buildNsc } from './nsc.js';
import type { MulticastOutputs } from './outputs.js';

export const NSC_CONTENT_TYPE = 'application/x-conference';
const NSC_PATH = /^\/([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\.nsc$/i;

export interface NscRouteOptions {
  outputs: MulticastOutputs;
  /** `Log URL` for players asking from `host` (undefined: none) */
  logUrl(host: string): string | undefined;
  /** default `Unicast URL` of a point for players asking from `host` */
  unicastUrl(point: string, host: string): string;
  serverName?: string;
}

function pointOf(rawUrl: string | undefined): string | undefined {
  const m = NSC_PATH.exec((rawUrl ?? '').split('?')[0]!);
  return m ? m[1] : undefined;
}

export function nscRoute(o: NscRouteOptions): HttpRoute {
  return {
    name: 'nsc',
    priority: 60,
    match: (req) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      const point = pointOf(req.url);
      return point !== undefined && o.outputs.get(point) !== undefined;
    },
    handle: async (req, res, ctx) => {
      const point = pointOf(req.url)!;
      const sender = o.outputs.get(point);
      if (!sender) throw new MssError('not-found', `publishing point ${point} has no multicast output`);
      const target = await sender.currentTarget();
      if (!target.allows(ctx.remoteAddress)) throw new MssError('forbidden', `${ctx.remoteAddress} may not use publishing point ${target.point}`);
      // the header broadcast now, under the ID the framer gives it (the same book), listed with earlier ones;
      // a point between two broadcasts still announces what it sent (its next stream will say if it changed)
      if (sender.sending || sender.formats.size === 0) {
        const desc = await target.describe();
        sender.formats.idFor(desc.headerBytes);
      }
      const c = sender.config;
      const host = String(req.headers.host ?? '') || `${ctx.url.hostname}:${ctx.url.port}`;
      const formats = [...sender.formats.list()].reverse().map((f) => {
        let title: string | undefined;
        try {
          title = parseHeaderObject(f.header).contentDescription?.title || undefined;
        } catch {
          title = undefined;
        }
        return { formatId: f.formatId, header: f.header, description: title ?? target.point };
      });
      const body = buildNsc({
        name: `${o.serverName ?? hostname()}, ${target.point}`,
        multicastAdapter: c.interface || undefined,
        ipAddress: c.group,
        ipPort: c.port,
        ttl: c.ttl,
        defaultEcc: c.fecSpan > 0 ? c.fecSpan : undefined,
        logUrl: o.logUrl(host),
        unicastUrl: c.unicastUrl || o.unicastUrl(target.point, host),
        allowSplitting: 1,
        allowCaching: 0,
        formats,
      });
      res.writeHead(200, { 'Content-Type': NSC_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : body);
    },
  };
}
