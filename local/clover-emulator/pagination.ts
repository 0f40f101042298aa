// Clover's list envelope (clover-api.md §5.3, §13.14): newest first, `limit` 1–100 (default 10),
// `starting_after` / `ending_before` cursors naming an id in the list, and Clover's `created`
// filters (`created.gt|gte|lt|lte` = epoch ms or `yyyy-MM-dd HH:mm:ss`, UTC). A list may lag
// behind writes (`list_lag_ms`): what was made less than that long ago is not listed yet, while a
// GET by id sees it at once.

import { invalidRequest, resourceMissing } from './errors';

export interface ListEnvelope<T> {
  object: 'list';
  url: string;
  data: T[];
  has_more: boolean;
}

export function newestFirst<T extends { seq: number }>(records: T[]): T[] {
  return records.sort((a, b) => b.seq - a.seq);
}

export function paginate<T extends { id: string }>(
  items: T[],
  query: URLSearchParams,
  url: string,
  what: string,
): ListEnvelope<T> {
  const limitText = query.get('limit');
  let limit = 10;
  if (limitText !== null) {
    if (!/^\d{1,3}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 100) {
      throw invalidRequest('limit must be an integer between 1 and 100', 'limit');
    }
    limit = Number(limitText);
  }
  const after = query.get('starting_after');
  const before = query.get('ending_before');
  if (after && before) throw invalidRequest('Use starting_after or ending_before, not both', 'ending_before');

  const indexOf = (id: string, param: string): number => {
    const index = items.findIndex((item) => item.id === id);
    if (index < 0) throw resourceMissing(what, id, param, 400);
    return index;
  };

  if (after) {
    const rest = items.slice(indexOf(after, 'starting_after') + 1);
    return { object: 'list', url, data: rest.slice(0, limit), has_more: rest.length > limit };
  }
  if (before) {
    const newer = items.slice(0, indexOf(before, 'ending_before'));
    return {
      object: 'list',
      url,
      data: newer.slice(Math.max(0, newer.length - limit)),
      has_more: newer.length > limit,
    };
  }
  return { object: 'list', url, data: items.slice(0, limit), has_more: items.length > limit };
}

const CREATED_OPS = ['gt', 'gte', 'lt', 'lte'] as const;

function parseInstant(text: string, param: string): number {
  if (/^\d{1,16}$/.test(text)) return Number(text);
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2}))?$/.exec(text);
  if (!m) throw invalidRequest(`${param} must be epoch milliseconds or yyyy-MM-dd HH:mm:ss`, param);
  const [, y, mo, d, h, mi, s] = m;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0));
}

/** Keeps what matches the `created.*` filters and is old enough to be listed (`lagMs`). */
export function listable<T extends { created: number }>(
  items: T[],
  query: URLSearchParams,
  now: number,
  lagMs: number,
): T[] {
  const bounds: [(typeof CREATED_OPS)[number], number][] = [];
  for (const op of CREATED_OPS) {
    const text = query.get(`created.${op}`);
    if (text !== null) bounds.push([op, parseInstant(text, `created.${op}`)]);
  }
  return items.filter((item) => {
    if (item.created + lagMs > now) return false;
    return bounds.every(([op, t]) =>
      op === 'gt'
        ? item.created > t
        : op === 'gte'
          ? item.created >= t
          : op === 'lt'
            ? item.created < t
            : item.created <= t,
    );
  });
}
