import { Fragment, useState, type FormEvent } from 'react';
import { WEBHOOK_EVENTS, type WebhookEvent, type components } from '@psc/api-client';
import { useApi } from '../swr.ts';
import { LIVE_MS, useSession } from '../context.ts';
import { ago, time } from '../format.ts';
import { unwrap } from '../session.ts';
import { ActionButton, Can, ErrorBox, Section, Status } from '../ui.tsx';
import { WebhookDeliveries } from './webhook-deliveries.tsx';

type Webhook = components['schemas']['Webhook'];
type Created = components['schemas']['WebhookCreated'];

/**
 * Subscribes a URL to events (admin); the API refuses a URL psc may not call (422). The secret
 * may be given (a receiver that already holds one, several subscriptions signing alike); left
 * empty, psc makes one and the page shows it once. `generated` says which.
 */
function CreateForm({ onCreated }: { onCreated: (created: Created, generated: boolean) => void }) {
  const { client } = useSession();
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [secret, setSecret] = useState('');
  const [events, setEvents] = useState<WebhookEvent[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    if (!events.length) {
      setError(new Error('Pick at least one event'));
      return;
    }
    setBusy(true);
    try {
      const own = secret.trim();
      onCreated(
        await unwrap(
          client.POST('/api/v1/webhooks', {
            body: {
              url,
              events,
              ...(description ? { description } : {}),
              ...(own ? { secret: own } : {}),
            },
          }),
        ),
        !own,
      );
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="stacked" aria-label="New webhook" onSubmit={(e) => void submit(e)}>
      <label>
        URL
        <input
          name="url"
          type="url"
          required
          placeholder="https://hooks.example.com/psc"
          value={url}
          onChange={(e) => setUrl(e.target.value)}
        />
      </label>
      <label>
        Description (optional)
        <input
          name="description"
          maxLength={200}
          value={description}
          onChange={(e) => setDescription(e.target.value)}
        />
      </label>
      <label>
        Signing secret (optional: leave empty and psc makes one)
        <input
          name="secret"
          type="password"
          autoComplete="off"
          spellCheck={false}
          maxLength={200}
          placeholder="whsec_…"
          value={secret}
          onChange={(e) => setSecret(e.target.value)}
        />
      </label>
      <fieldset>
        <legend>Events</legend>
        {WEBHOOK_EVENTS.map((name) => (
          <label key={name} className="check">
            <input
              type="checkbox"
              checked={events.includes(name)}
              onChange={(e) =>
                setEvents((prev) =>
                  e.target.checked ? [...prev, name] : prev.filter((n) => n !== name),
                )
              }
            />
            {name}
          </label>
        ))}
      </fieldset>
      <button type="submit" disabled={busy}>
        Create webhook
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

/** The signing secret of a subscription just made: the API answers it this once only. */
function NewSecret({ created, onDone }: { created: Created; onDone: () => void }) {
  return (
    <section aria-label="Signing secret" className="card wide secret">
      <h2>Webhook created: copy its signing secret now</h2>
      <p>
        psc shows this secret <strong>this once</strong>: it will not be shown again, and no page or
        API call can read it later. Receivers check each delivery’s <code>webhook-signature</code>{' '}
        with it (Standard Webhooks). Lost, it means a new subscription.
      </p>
      <input
        aria-label="Secret"
        readOnly
        size={60}
        value={created.secret}
        onFocus={(e) => e.target.select()}
      />
      <p className="muted">For {created.url}</p>
      <button type="button" onClick={onDone}>
        I have copied it
      </button>
    </section>
  );
}

function State({ hook }: { hook: Webhook }) {
  if (hook.enabled) return <Status value="enabled" />;
  return (
    <>
      <Status value="disabled" />
      {hook.disabledReason ? <span className="reason"> {hook.disabledReason}</span> : null}
      {hook.disabledAt ? <span className="muted"> · {ago(hook.disabledAt)}</span> : null}
    </>
  );
}

/**
 * Webhook subscriptions: what each sends where, whether it is on (and why not), its deliveries;
 * for admins (the role the API asks for) create, send test, enable, disable and delete.
 */
export function Webhooks() {
  const { client } = useSession();
  const [showForm, setShowForm] = useState(false);
  const [created, setCreated] = useState<Created | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const { data, error, mutate } = useApi('webhooks', () => unwrap(client.GET('/api/v1/webhooks')), {
    refreshInterval: LIVE_MS,
  });
  const refresh = () => void mutate();
  const path = (id: string) => ({ params: { path: { id } } });

  return (
    <>
      <h1>Webhooks</h1>
      <Can role="admin">
        <button type="button" onClick={() => setShowForm((v) => !v)}>
          {showForm ? 'Close form' : 'New webhook'}
        </button>
        {showForm ? (
          <Section title="New webhook">
            <CreateForm
              onCreated={(hook, generated) => {
                // A secret the admin typed is not shown back: they have it already.
                setCreated(generated ? hook : null);
                setShowForm(false);
                refresh();
              }}
            />
          </Section>
        ) : null}
        {created ? <NewSecret created={created} onDone={() => setCreated(null)} /> : null}
      </Can>
      {outcome ? <p role="status">{outcome}</p> : null}
      <ErrorBox error={error} />
      {data && data.items.length === 0 ? (
        <p className="muted">No webhooks yet: nothing is sent anywhere when jobs die.</p>
      ) : null}
      {data?.items.length ? (
        <table aria-label="Webhooks">
          <thead>
            <tr>
              <th>URL</th>
              <th>Events</th>
              <th>State</th>
              <th>Failures in a row</th>
              <th>Created</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data.items.map((hook) => (
              <Fragment key={hook.id}>
                <tr data-id={hook.id} data-enabled={hook.enabled}>
                  <td>
                    <code>{hook.url}</code>
                    {hook.description ? <div className="muted">{hook.description}</div> : null}
                  </td>
                  <td>{hook.events.join(', ')}</td>
                  <td>
                    <State hook={hook} />
                  </td>
                  <td>{hook.consecutiveFailures}</td>
                  <td title={time(hook.createdAt)}>{ago(hook.createdAt)}</td>
                  <td>
                    <div className="row-actions">
                      <button
                        type="button"
                        onClick={() => setOpen(open === hook.id ? null : hook.id)}
                      >
                        {open === hook.id ? 'Hide' : 'Deliveries'}
                      </button>
                      <Can role="admin">
                        <ActionButton
                          label="Send test"
                          disabled={!hook.enabled}
                          action={async () => {
                            const d = await unwrap(
                              client.POST('/api/v1/webhooks/{id}/test', path(hook.id)),
                            );
                            setOutcome(`Test ${d.id} queued for ${hook.url}`);
                            setOpen(hook.id);
                          }}
                        />
                        {hook.enabled ? (
                          <ActionButton
                            label="Disable"
                            action={() =>
                              unwrap(client.POST('/api/v1/webhooks/{id}/disable', path(hook.id)))
                            }
                            onDone={refresh}
                          />
                        ) : (
                          <ActionButton
                            label="Enable"
                            action={() =>
                              unwrap(client.POST('/api/v1/webhooks/{id}/enable', path(hook.id)))
                            }
                            onDone={refresh}
                          />
                        )}
                        <ActionButton
                          label="Delete"
                          danger
                          confirm="Delete this webhook and its delivery log?"
                          action={() =>
                            unwrap(client.DELETE('/api/v1/webhooks/{id}', path(hook.id)))
                          }
                          onDone={refresh}
                        />
                      </Can>
                    </div>
                  </td>
                </tr>
                {open === hook.id ? (
                  <tr className="detail">
                    <td colSpan={6}>
                      <WebhookDeliveries id={hook.id} />
                    </td>
                  </tr>
                ) : null}
              </Fragment>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}
