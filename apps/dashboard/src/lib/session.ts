/** Who the token says the user is. Read for display only; the gateway verifies every request. */
export interface Session {
  token: string;
  subject: string;
  roles: string[];
  isAdmin: boolean;
  expiresAt: Date | null;
}

const KEY = 'simdeploy.token';

function decodePart(part: string): unknown {
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** The session of a pasted token, or why it is not one. */
export function sessionOf(token: string): Session | string {
  const parts = token.trim().split('.');
  if (parts.length !== 3) return 'This is not a token: a JWT has three parts separated by dots.';
  let claims: { sub?: unknown; roles?: unknown; exp?: unknown };
  try {
    claims = decodePart(parts[1]) as typeof claims;
  } catch {
    return 'This token cannot be read: its middle part is not base64url JSON.';
  }
  if (typeof claims.sub !== 'string' || claims.sub === '') return 'This token names no subject (sub).';
  const roles = Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
  const expiresAt = typeof claims.exp === 'number' ? new Date(claims.exp * 1000) : null;
  if (expiresAt && expiresAt.getTime() < Date.now()) return `This token expired on ${expiresAt.toLocaleString()}.`;
  return { token: token.trim(), subject: claims.sub, roles, isAdmin: roles.includes('admin'), expiresAt };
}

/** Kept for this tab only: closing it signs out. */
export const savedToken = (): string | null => sessionStorage.getItem(KEY);
export const saveToken = (token: string): void => sessionStorage.setItem(KEY, token);
export const forgetToken = (): void => sessionStorage.removeItem(KEY);
