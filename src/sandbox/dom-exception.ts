// DOMException, for the few standard APIs that throw one (atob, btoa,
// structuredClone, crypto.getRandomValues). A bare context has no
// DOMException: installRealm registers the context's wrapper of the host's
// class here, and until then (or without one) an Error with the right `name`
// stands in.

import { RealmError, defineProperty } from './intrinsics.js';

type DOMExceptionClass = new (message?: string, name?: string) => Error;

let DOMExceptionCtor: DOMExceptionClass | null = null;

export function setDOMException(ctor: DOMExceptionClass | null): void {
  DOMExceptionCtor = ctor;
}

export function domException(message: string, name: string): Error {
  if (DOMExceptionCtor !== null) return new DOMExceptionCtor(message, name);
  const error = new RealmError(message);
  defineProperty(error, 'name', { value: name, writable: true, configurable: true });
  return error;
}
