/*
 * The demo storefront's page script: what a shop's checkout page does with Clover's hosted iframe
 * and this project's API.
 *
 * 1. GET /v1/checkout-config with the publishable key → the merchant's Clover key and sdk_url.
 * 2. Load sdk_url (Clover's sdk.js) and mount its card fields: iframes on Clover's origin, so this
 *    script never sees a card number; it gets per-field errors and, at the end, a token.
 * 3. clover.createToken() → a single-use clv_ token.
 * 4. POST /v1/checkout-sessions/{id}/pay with the session's client_secret, the token and an
 *    Idempotency-Key. The amount is the session's, fixed by the shop's server.
 */

const config = JSON.parse(document.getElementById('storefront-config').textContent);
const { session } = config;
const $ = (id) => document.getElementById(id);

const FIELDS = [
  { type: 'CARD_NUMBER', id: 'card-number' },
  { type: 'CARD_DATE', id: 'card-date' },
  { type: 'CARD_CVV', id: 'card-cvv' },
  { type: 'CARD_POSTAL_CODE', id: 'card-postal-code' },
];
const FIELD_STYLES = {
  body: {
    fontFamily:
      '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", sans-serif',
    fontSize: '16px',
  },
  input: { fontSize: '16px', color: '#1a1f36' },
  'input::placeholder': { color: '#8792a2' },
};
const BRANDS = {
  VISA: 'Visa',
  MC: 'Mastercard',
  AMEX: 'American Express',
  DISCOVER: 'Discover',
  DINERS: 'Diners Club',
  JCB: 'JCB',
};
const IN_PROGRESS = new Set(['idempotency_in_progress', 'session_payment_in_progress']);

let clover = null;
let busy = false;
/**
 * The token being paid and its Idempotency-Key. Kept while the outcome is unknown (network error,
 * 5xx), so that pressing Pay again re-sends the same request: the API then answers with the real
 * outcome instead of charging twice. Dropped once the outcome is known.
 */
let attempt = null;

const money = (amount, currency) =>
  new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() }).format(amount / 100);

renderSummary();
$('payment-form').addEventListener('submit', (event) => {
  event.preventDefault();
  pay();
});
start().catch((e) => {
  showAlert('The payment form could not load.', `${e.message} Please reload the page.`);
  $('pay-label').textContent = 'Payment unavailable';
  for (const { id } of FIELDS) $(id).classList.remove('is-loading');
});

function renderSummary() {
  const { cart } = config;
  $('order-number').textContent = config.order;
  $('items').replaceChildren(
    ...cart.items.map((item) => {
      const li = document.createElement('li');
      li.className = 'item';
      li.innerHTML = `
        <span class="item-thumb" aria-hidden="true">
          <svg viewBox="0 0 24 32" width="22" height="30"><path d="M4 4h16l2 6v18a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V10Z" fill="#3b2a20"/><path d="M2 10h20" stroke="#f3e6d8" stroke-width="1.5"/><circle cx="12" cy="19" r="4" fill="#f3e6d8"/></svg>
          <span class="item-qty"></span>
        </span>
        <span><p class="item-name"></p><p class="item-detail"></p></span>
        <span class="item-price"></span>`;
      li.querySelector('.item-qty').textContent = item.quantity;
      li.querySelector('.item-name').textContent = item.name;
      li.querySelector('.item-detail').textContent = `${item.detail} · ${money(item.unit_amount, cart.currency)} each`;
      li.querySelector('.item-price').textContent = money(item.quantity * item.unit_amount, cart.currency);
      return li;
    }),
  );
  $('subtotal').textContent = money(session.amount, session.currency);
  $('total').textContent = money(session.amount, session.currency);
}

async function start() {
  const checkout = await api('GET', '/v1/checkout-config');
  if (checkout.status !== 200)
    throw new Error(checkout.body?.error?.message ?? 'The store is not set up for payments.');
  await loadScript(checkout.body.sdk_url);
  clover = new window.Clover(checkout.body.api_access_key, { merchantId: checkout.body.merchant_id });
  const elements = clover.elements();
  for (const field of FIELDS) {
    const element = elements.create(field.type, FIELD_STYLES);
    element.mount(`#${field.id}`);
    element.addEventListener('change', (event) => showFieldError(field, event[field.type]?.error));
    element.addEventListener('blur', (event) => showFieldError(field, event[field.type]?.error));
    const container = $(field.id);
    const frame = container.querySelector('iframe');
    if (frame) frame.addEventListener('load', () => container.classList.remove('is-loading'));
    else container.classList.remove('is-loading');
    // A click on the label focuses the field, as it would for a plain input.
    $(`${field.id}-label`).addEventListener('click', () => container.querySelector('iframe')?.focus());
  }
  setTimeout(() => {
    for (const { id } of FIELDS) $(id).classList.remove('is-loading');
  }, 5000);
  setBusy(false);
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error('Clover’s payment script did not load.'));
    document.head.append(script);
  });
}

function showFieldError(field, message) {
  $(`${field.id}-error`).textContent = message ?? '';
  $(field.id).classList.toggle('is-invalid', Boolean(message));
}

async function pay() {
  if (busy || !clover) return;
  setBusy(true);
  hideAlert();
  try {
    if (!attempt) {
      const result = await clover.createToken();
      if (result.errors) {
        const errors = { ...result.errors };
        for (const field of FIELDS) {
          showFieldError(field, errors[field.type]);
          delete errors[field.type];
        }
        const other = Object.values(errors);
        if (other.length > 0) showAlert('Please check your card details.', other.join(' '));
        return;
      }
      attempt = { source: result.token, key: idempotencyKey() };
    }
    const response = await submitPayment(attempt);
    const error = response.body?.error;
    if (response.status === 201) {
      attempt = null;
      showApproved(response.body);
    } else if (response.status === 0 || response.status >= 500) {
      showAlert('We could not confirm your payment.', 'Press Pay again to finish: you will not be charged twice.');
    } else if (response.status === 402) {
      attempt = null;
      showAlert(error?.message ?? 'Your card was declined.', 'Please try another card.');
    } else if (error?.code === 'session_not_open' || response.status === 404) {
      attempt = null;
      showAlert('This checkout is closed.', 'Start a new order to pay again.');
      $('pay').disabled = true;
    } else if (IN_PROGRESS.has(error?.code)) {
      showAlert('Your payment is still being processed.', 'Wait a moment, then press Pay again.');
    } else {
      attempt = null;
      showAlert('The payment did not go through.', error?.message ?? `Unexpected answer (${response.status}).`);
    }
  } finally {
    if ($('approved').hidden) setBusy(false);
  }
}

/** Pays the session; a request that is still running elsewhere is retried after Retry-After. */
async function submitPayment({ source, key }) {
  for (let tries = 1; ; tries++) {
    const response = await api(
      'POST',
      `/v1/checkout-sessions/${encodeURIComponent(session.id)}/pay`,
      { client_secret: session.client_secret, source },
      { 'Idempotency-Key': key },
    );
    if (response.status !== 409 || !IN_PROGRESS.has(response.body?.error?.code) || tries >= 5) return response;
    await new Promise((resolve) => setTimeout(resolve, response.retryAfter * 1000));
  }
}

/** Calls this project's API with the publishable key. status 0 = no answer. */
async function api(method, path, body, headers = {}) {
  try {
    const response = await fetch(path, {
      method,
      headers: {
        Authorization: `Bearer ${config.publishable_key}`,
        ...(body ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await response.json().catch(() => null);
    return { status: response.status, body: json, retryAfter: Number(response.headers.get('Retry-After')) || 1 };
  } catch {
    return { status: 0, body: null, retryAfter: 1 };
  }
}

function idempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

function setBusy(value) {
  busy = value;
  const button = $('pay');
  button.disabled = value;
  button.classList.toggle('is-busy', value);
  $('payment-form').setAttribute('aria-busy', String(value));
  $('pay-label').textContent = value ? 'Processing…' : `Pay ${money(session.amount, session.currency)}`;
}

function showAlert(title, text) {
  $('alert-title').textContent = title;
  $('alert-text').textContent = text;
  $('alert').hidden = false;
}

function hideAlert() {
  $('alert').hidden = true;
}

function showApproved(charge) {
  const card = charge.source ?? {};
  $('paid-amount').textContent = money(charge.amount, charge.currency);
  $('paid-card').textContent = `${BRANDS[card.brand] ?? card.brand ?? 'Card'} •••• ${card.last4 ?? ''}`;
  $('paid-order').textContent = config.order;
  $('paid-charge').textContent = charge.id;
  $('payment-form').hidden = true;
  $('approved').hidden = false;
  $('paid-badge').hidden = false;
  $('approved-title').focus();
  watchFulfilment();
}

/**
 * The order is fulfilled by the storefront's server when the signed `checkout_session.paid`
 * webhook arrives, not on the browser's word: the page only shows what the server recorded.
 */
async function watchFulfilment() {
  for (let i = 0; i < 120; i++) {
    try {
      const r = await fetch(`/demo/orders/${encodeURIComponent(config.session.id)}`, { cache: 'no-store' });
      const order = r.ok ? await r.json() : null;
      if (order?.fulfilled) {
        $('fulfilment').textContent = `Fulfilled — confirmed by webhook ${order.event}`;
        $('fulfilment').dataset.fulfilled = 'true';
        return;
      }
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  $('fulfilment').textContent = 'Not confirmed yet: the order ships once the payment webhook arrives.';
}
