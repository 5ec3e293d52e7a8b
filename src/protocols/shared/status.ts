/**
 * The status a protocol answers for an error: HTTP (WMSP, WMHTTP, the API) and RTSP use the same numbers, so one
 * table serves them all; MMSP and MSBD map these statuses to their own HRESULT-style codes.
 */
import type { MssError, MssErrorCode } from '../../core/errors.js';

/** Status for each error code. */
export const STATUS_FOR_CODE: Record<MssErrorCode, number> = {
  truncated: 400,
  malformed: 400,
  'too-large': 413,
  unsupported: 400,
  'invalid-config': 400,
  'invalid-argument': 400,
  'not-found': 404,
  forbidden: 403,
  unauthorized: 401,
  conflict: 409,
  'limit-reached': 503,
  timeout: 408,
  unavailable: 503,
  expired: 410,
  internal: 500,
};

const REASONS: Record<number, string> = {
  200: 'OK', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 408: 'Request Timeout', 409: 'Conflict', 410: 'Gone', 412: 'Precondition Failed',
  413: 'Payload Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 451: 'Parameter Not Understood', 453: 'Not Enough Bandwidth',
  454: 'Session Not Found', 455: 'Method Not Valid in This State', 457: 'Invalid Range', 459: 'Aggregate Operation Not Allowed',
  461: 'Unsupported Transport', 500: 'Internal Server Error', 501: 'Not Implemented', 503: 'Service Unavailable',
  505: 'Version Not Supported',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? (status < 400 ? 'OK' : 'Error');
}

/** The status of an error: one the error names itself (e.g. 429 for a rate limit, 454 for RTSP), else by its code. */
export function statusForError(e: MssError): number {
  const named = e.detail.status;
  if (typeof named === 'number' && Number.isInteger(named) && named >= 400 && named <= 599) return named;
  return e.code === 'too-large' && /header/i.test(e.message) ? 431 : STATUS_FOR_CODE[e.code];
}
