import { useSession } from '../context.ts';
import { allows } from '../session.ts';
import { ApiKeys } from './access-keys.tsx';
import { AuditTrail } from './audit-trail.tsx';

/**
 * API keys and the audit trail, for admins (the role the API asks for both). Another key that
 * comes here by its URL is told so, and the page asks the API nothing it would refuse.
 */
export function Access() {
  const { role } = useSession();
  if (!allows(role, 'admin')) {
    return (
      <>
        <h1>Access</h1>
        <section aria-label="Admins only" className="card wide">
          <p>
            <strong>This page is for admins.</strong> API keys and the audit trail need an admin
            key; you are signed in with {role === 'operator' ? 'an' : 'a'} {role} key.
          </p>
          <p className="muted">Ask an admin for a key of another role, or to look up a change.</p>
        </section>
      </>
    );
  }
  return (
    <>
      <h1>Access</h1>
      <ApiKeys />
      <AuditTrail />
    </>
  );
}
