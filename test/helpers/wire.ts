/**
 * Reading what a server wrote on a raw connection: the HTTP/1.1 responses in
 * order (framed by Content-Length, chunked encoding or the close), and
 * checking that guardpost's own errors carry the one JSON body shape.
 */
import { expect } from "vitest";

export interface WireResponse {
  readonly status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** False when the connection ended before the body its framing announced. */
  readonly complete: boolean;
}

/**
 * The first response in raw output (latin1 text), or null while its head is
 * not all there or the output does not start with a response. `head`: it
 * answers a HEAD request, so it has no body whatever its framing says. A
 * response framed by neither Content-Length nor chunked encoding runs to the
 * end of the output (the connection's close).
 */
export function parseResponse(raw: string, head = false): { response: WireResponse; consumed: number } | null {
  const match = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(raw);
  const headEnd = raw.indexOf("\r\n\r\n");
  if (!match || headEnd === -1) return null;
  const headers: Record<string, string> = {};
  for (const line of raw.slice(match[0].length, headEnd).split("\r\n")) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const status = Number(match[1]);
  let body = raw.slice(headEnd + 4);
  let complete = true;
  let consumed = raw.length;
  if (head || status === 204 || status === 304 || (status >= 100 && status < 200)) {
    body = "";
    consumed = headEnd + 4;
  } else if (headers["transfer-encoding"]?.toLowerCase().includes("chunked")) {
    const chunked = decodeChunked(body);
    body = chunked.body;
    complete = chunked.complete;
    consumed = headEnd + 4 + chunked.consumed;
  } else if (headers["content-length"] !== undefined) {
    const length = Number(headers["content-length"]);
    complete = body.length >= length;
    body = body.slice(0, length);
    consumed = headEnd + 4 + body.length;
  }
  return { response: { status, headers, body, complete }, consumed };
}

/**
 * Splits raw output (latin1 text, as rawExchange returns it) into responses.
 * Stops at the first thing that is not a response head; `trailing` holds it.
 */
export function parseResponses(raw: string): { responses: WireResponse[]; trailing: string } {
  const responses: WireResponse[] = [];
  let rest = raw;
  for (;;) {
    const parsed = parseResponse(rest);
    if (parsed === null) break;
    responses.push(parsed.response);
    rest = rest.slice(parsed.consumed);
    if (!parsed.response.complete) break;
  }
  return { responses, trailing: rest };
}

function decodeChunked(text: string): { body: string; consumed: number; complete: boolean } {
  let body = "";
  let at = 0;
  for (;;) {
    const lineEnd = text.indexOf("\r\n", at);
    if (lineEnd === -1) return { body, consumed: text.length, complete: false };
    const size = /^[0-9a-fA-F]+/.exec(text.slice(at, lineEnd));
    if (!size) return { body, consumed: at, complete: false };
    const length = parseInt(size[0], 16);
    at = lineEnd + 2;
    if (length === 0) {
      const end = text.indexOf("\r\n\r\n", at - 2);
      return end === -1 ? { body, consumed: text.length, complete: false } : { body, consumed: end + 4, complete: true };
    }
    if (text.length < at + length + 2) return { body: body + text.slice(at), consumed: text.length, complete: false };
    body += text.slice(at, at + length);
    at += length + 2;
  }
}

/** The statuses of every response in raw output, in order. */
export function statuses(raw: string): number[] {
  return parseResponses(raw).responses.map((r) => r.status);
}

export interface ExpectedError {
  readonly error?: string;
  readonly method?: string;
  readonly path?: string;
}

/**
 * Asserts that `body` is guardpost's error shape, `{error, method, path,
 * requestId}` plus an optional `reason`, with the given fields; returns it.
 */
export function expectErrorBody(body: string, expected: ExpectedError): Record<string, unknown> {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw new Error(`not a JSON error body: ${JSON.stringify(body.slice(0, 200))}`);
  }
  expect(Object.keys(parsed).filter((key) => key !== "reason").sort()).toEqual(["error", "method", "path", "requestId"]);
  expect(parsed).toMatchObject(expected);
  expect(typeof parsed.method).toBe("string");
  expect(typeof parsed.path).toBe("string");
  expect(parsed.requestId).toMatch(/^[A-Za-z0-9._:@/+=-]{1,128}$/);
  if ("reason" in parsed) expect(typeof parsed.reason).toBe("string");
  return parsed;
}

/** Asserts `response` is a guardpost error with `status` and the JSON shape, and that its x-request-id matches the body. */
export function expectErrorResponse(response: WireResponse | undefined, status: number, expected: ExpectedError): Record<string, unknown> {
  expect(response, "no response").toBeDefined();
  expect(response!.status).toBe(status);
  expect(response!.headers["content-type"]).toBe("application/json");
  const body = expectErrorBody(response!.body, expected);
  expect(response!.headers["x-request-id"]).toBe(body.requestId);
  return body;
}
