import type { RequestHandler, Response } from 'express';
import type { AccessService, Principal } from '../services/rooms/access.service';

/** Every request through it carries a valid credential (401 otherwise), kept for the handler. */
export function authenticate(access: AccessService): RequestHandler {
  return async (req, res, next) => {
    res.locals.principal = await access.authenticate(req.get('Authorization'));
    next();
  };
}

/** Admin routes: only the host application's key. */
export function requireAdmin(access: AccessService): RequestHandler {
  return async (req, res, next) => {
    const principal = await access.authenticate(req.get('Authorization'));
    access.authorizeAdmin(principal);
    res.locals.principal = principal;
    next();
  };
}

export const principalOf = (res: Response): Principal => res.locals.principal as Principal;
