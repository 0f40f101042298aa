/*
 * One hosted card field, served at /elements/<FIELD> from the emulator's origin and shown in an
 * iframe of the merchant's page (see sdk.js). It formats and checks what the shopper types and tells
 * the page only { error, touched }.
 *
 * Tokenizing: the page asks the CARD_NUMBER frame (clover:createToken). That frame gathers the
 * other fields' values on a BroadcastChannel named by the page's Clover instance. A channel is
 * shared only by documents of one origin, so the values never pass through the page. It checks
 * them, POSTs the card to /v1/tokens on this origin with the apikey, and answers the page with
 * { token } or { errors }.
 */
(() => {
  const TYPE = location.pathname.split('/').pop();
  const input = document.getElementById('field');
  const badge = document.getElementById('brand');
  const COLLECT_TIMEOUT_MS = 10_000; // a slow device (or a loaded CI machine) still answers in time
  const REQUIRED = ['CARD_NUMBER', 'CARD_DATE', 'CARD_CVV'];
  const BRAND_NAMES = {
    VISA: 'Visa',
    MC: 'Mastercard',
    AMEX: 'Amex',
    DISCOVER: 'Discover',
    DINERS: 'Diners',
    JCB: 'JCB',
  };

  const digitsOf = (text) => text.replace(/\D/g, '');

  /** The card network from the number's prefix, as the token host sees it (cards.ts). */
  function detectBrand(pan) {
    const p2 = Number(pan.slice(0, 2));
    const p3 = Number(pan.slice(0, 3));
    const p4 = Number(pan.slice(0, 4));
    const p6 = Number(pan.slice(0, 6));
    if (pan.startsWith('4')) return 'VISA';
    if (p2 === 34 || p2 === 37) return 'AMEX';
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return 'MC';
    if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925)) return 'DISCOVER';
    if (p4 >= 3528 && p4 <= 3589) return 'JCB';
    if ((p3 >= 300 && p3 <= 305) || p4 === 3095 || p2 === 36 || p2 === 38 || p2 === 39) return 'DINERS';
    return null;
  }

  function luhnValid(pan) {
    let sum = 0;
    for (let i = 0; i < pan.length; i++) {
      let d = Number(pan[pan.length - 1 - i]);
      if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
      sum += d;
    }
    return sum % 10 === 0;
  }

  const panLength = (brand) => (brand === 'AMEX' ? 15 : brand === 'DINERS' ? 14 : 16);

  /** Digits split into groups: 4-6-5 for Amex and Diners, 4-4-4-4-3 otherwise. */
  function groupDigits(digits, brand) {
    const sizes = brand === 'AMEX' || brand === 'DINERS' ? [4, 6, 5] : [4, 4, 4, 4, 3];
    const out = [];
    let at = 0;
    for (const size of sizes) {
      if (at >= digits.length) break;
      out.push(digits.slice(at, at + size));
      at += size;
    }
    return out.join(' ');
  }

  /** The brand the CARD_NUMBER frame last announced (the CVV frame needs it for the length). */
  let cardBrand = null;

  // Each field: how it looks, how it formats, and check(text, final) → an error or null. `final`
  // means the shopper is done (left the field, or pressed pay): incomplete input is an error then.
  const FIELDS = {
    CARD_NUMBER: {
      label: 'Card number',
      placeholder: '1234 1234 1234 1234',
      autocomplete: 'cc-number',
      format: (text) => {
        const digits = digitsOf(text).slice(0, 19);
        return groupDigits(digits, detectBrand(digits));
      },
      value: digitsOf,
      check(text, final) {
        const pan = digitsOf(text);
        if (pan === '') return final ? 'Enter your card number.' : null;
        const brand = detectBrand(pan);
        if (pan.length < panLength(brand)) return final ? 'Your card number is incomplete.' : null;
        if (!luhnValid(pan)) return 'Your card number is invalid.';
        if (!brand) return 'This type of card is not accepted.';
        return null;
      },
    },
    CARD_DATE: {
      label: 'Expiration date (MM / YY)',
      placeholder: 'MM / YY',
      autocomplete: 'cc-exp',
      format: (text, deleting) => {
        let digits = digitsOf(text).slice(0, 4);
        if (digits.length === 1 && digits > '1') digits = `0${digits}`;
        if (digits.length > 2) return `${digits.slice(0, 2)} / ${digits.slice(2)}`;
        return digits.length === 2 && !deleting ? `${digits} / ` : digits;
      },
      value: digitsOf,
      check(text, final) {
        const digits = digitsOf(text);
        if (digits === '') return final ? 'Enter the expiration date.' : null;
        const month = Number(digits.slice(0, 2));
        if (digits.length >= 2 && (month < 1 || month > 12)) return 'The expiration month is invalid.';
        if (digits.length < 4) return final ? 'The expiration date is incomplete.' : null;
        const year = 2000 + Number(digits.slice(2));
        const now = new Date();
        if (year < now.getFullYear() || (year === now.getFullYear() && month < now.getMonth() + 1)) {
          return 'Your card has expired.';
        }
        if (year > now.getFullYear() + 50) return 'The expiration year is invalid.';
        return null;
      },
    },
    CARD_CVV: {
      label: 'Security code',
      placeholder: 'CVC',
      autocomplete: 'cc-csc',
      format: (text) => digitsOf(text).slice(0, 4),
      value: digitsOf,
      check(text, final) {
        const cvv = digitsOf(text);
        if (cvv === '') return final ? 'Enter the security code.' : null;
        const expected = cardBrand ? (cardBrand === 'AMEX' ? 4 : 3) : null;
        if (cvv.length < (expected ?? 3)) return final ? 'The security code is incomplete.' : null;
        if (expected && cvv.length > expected) return `The security code has ${expected} digits on this card.`;
        return null;
      },
    },
    CARD_POSTAL_CODE: {
      label: 'ZIP or postal code',
      placeholder: 'ZIP',
      autocomplete: 'postal-code',
      inputMode: 'text',
      format: (text) =>
        text
          .toUpperCase()
          .replace(/[^A-Z0-9 -]/g, '')
          .slice(0, 10),
      value: (text) => text.trim(),
      check(text, final) {
        const zip = text.trim();
        if (zip === '') return final ? 'Enter your ZIP or postal code.' : null;
        const valid = /^\d{5}(-?\d{4})?$/.test(zip) || /^[A-Z]\d[A-Z] ?\d[A-Z]\d$/.test(zip);
        return !valid && final ? 'Your ZIP or postal code is invalid.' : null;
      },
    },
  };

  const field = FIELDS[TYPE];
  if (!field) return;
  input.placeholder = field.placeholder;
  input.autocomplete = field.autocomplete;
  input.inputMode = field.inputMode ?? 'numeric';
  input.setAttribute('aria-label', field.label);

  // --- the page ---------------------------------------------------------------------------
  let parentOrigin = null;
  let channel = null;
  let apiAccessKey = null;
  /** The shopper typed here and left, or pressed pay: from then on incomplete input is an error. */
  let touched = false;

  const toPage = (message) => {
    if (parentOrigin) window.parent.postMessage(message, parentOrigin);
  };

  function report(event) {
    const error = field.check(input.value, touched);
    input.classList.toggle('invalid', Boolean(error));
    input.setAttribute('aria-invalid', String(Boolean(error)));
    toPage({ type: 'clover:event', event, state: error ? { touched, error } : { touched } });
  }

  // Only the page that embeds this frame can set it up, and the origin it sends from is the only
  // one this frame ever answers: the browser vouches for event.origin, not the page.
  window.addEventListener('message', (event) => {
    const message = event.data;
    if (event.source !== window.parent || !message || typeof message !== 'object') return;
    if (message.type === 'clover:init' && parentOrigin === null) {
      parentOrigin = event.origin;
      setUp(message);
    } else if (event.origin === parentOrigin && message.type === 'clover:createToken' && TYPE === 'CARD_NUMBER') {
      tokenize(message);
    }
  });

  function setUp(message) {
    document.documentElement.lang = typeof message.locale === 'string' ? message.locale.slice(0, 5) : 'en-US';
    applyStyles(message.styles);
    if (TYPE === 'CARD_NUMBER') apiAccessKey = String(message.apiAccessKey ?? '');
    channel = new BroadcastChannel(String(message.channel));
    channel.addEventListener('message', (event) => onSibling(event.data));
    if (TYPE === 'CARD_CVV') channel.postMessage({ type: 'brand?' });
  }

  /** Styles from elements.create(type, styles): plain declarations on a few selectors. */
  function applyStyles(styles) {
    if (!styles || typeof styles !== 'object') return;
    const rules = [];
    for (const [selector, declarations] of Object.entries(styles)) {
      if (!/^(body|input|\.brand)(:focus|:hover|::placeholder|\.invalid)?$/.test(selector)) continue;
      if (!declarations || typeof declarations !== 'object') continue;
      const body = [];
      for (const [property, value] of Object.entries(declarations)) {
        const name = property.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
        const text = String(value);
        if (!/^-?[a-z-]+$/.test(name) || /[;{}<>\\]|url\(|@import|expression/i.test(text)) continue;
        body.push(`${name}: ${text}`);
      }
      rules.push(`${selector} { ${body.join('; ')} }`);
    }
    const style = document.createElement('style');
    style.textContent = rules.join('\n');
    document.head.append(style);
  }

  // --- typing -------------------------------------------------------------------------------
  /** Re-formats the value, keeping the caret after the same number of letters and digits. */
  function reformat(deleting) {
    const before = input.value;
    const caret = input.selectionStart ?? before.length;
    const after = field.format(before, deleting);
    if (after === before) return;
    const significant = before.slice(0, caret).replace(/[^0-9A-Za-z]/g, '').length;
    let position = 0;
    for (let seen = 0; position < after.length && seen < significant; position++) {
      if (/[0-9A-Za-z]/.test(after[position])) seen++;
    }
    input.value = after;
    if (caret === before.length) position = after.length;
    input.setSelectionRange(position, position);
  }

  input.addEventListener('input', (event) => {
    reformat(event.inputType?.startsWith('delete') ?? false);
    if (TYPE === 'CARD_NUMBER') announceBrand();
    report('change');
  });
  input.addEventListener('focus', () => report('focus'));
  input.addEventListener('blur', () => {
    if (input.value !== '') touched = true;
    report('blur');
  });
  // The page focuses the iframe (a click on its label): hand the focus on to the input.
  window.addEventListener('focus', () => input.focus());

  function announceBrand() {
    const brand = detectBrand(digitsOf(input.value));
    badge.textContent = brand ? BRAND_NAMES[brand] : '';
    badge.hidden = !brand;
    if (brand !== cardBrand) {
      cardBrand = brand;
      channel?.postMessage({ type: 'brand', brand });
    }
  }

  // --- siblings -----------------------------------------------------------------------------
  function onSibling(message) {
    if (!message || typeof message !== 'object') return;
    if (message.type === 'brand?' && TYPE === 'CARD_NUMBER') {
      channel.postMessage({ type: 'brand', brand: cardBrand });
    } else if (message.type === 'brand' && TYPE === 'CARD_CVV') {
      cardBrand = message.brand ?? null;
      if (input.value !== '') report('change');
    } else if (message.type === 'collect' && TYPE !== 'CARD_NUMBER') {
      touched = true;
      report('change');
      const error = field.check(input.value, true);
      channel.postMessage({ type: 'value', id: message.id, element: TYPE, value: field.value(input.value), error });
    }
  }

  /** The other fields' { value, error }, by name; a field that does not answer is left out. */
  function collect(id, names) {
    return new Promise((resolve) => {
      const got = {};
      const finish = () => {
        clearTimeout(timer);
        channel.removeEventListener('message', onValue);
        resolve(got);
      };
      const onValue = (event) => {
        const m = event.data;
        if (m?.type !== 'value' || m.id !== id || !names.includes(m.element)) return;
        got[m.element] = { value: String(m.value ?? ''), error: typeof m.error === 'string' ? m.error : null };
        if (names.every((name) => got[name])) finish();
      };
      const timer = setTimeout(finish, COLLECT_TIMEOUT_MS);
      channel.addEventListener('message', onValue);
      if (names.length === 0) finish();
      else channel.postMessage({ type: 'collect', id });
    });
  }

  // --- tokenizing (CARD_NUMBER frame only) ---------------------------------------------------
  async function tokenize({ id, elements }) {
    const answer = (result) => toPage({ type: 'clover:token', id, result });
    const mounted = Array.isArray(elements) ? elements.filter((name) => Object.hasOwn(FIELDS, name)) : [];
    touched = true;
    report('change');
    const values = await collect(
      id,
      mounted.filter((name) => name !== TYPE),
    );
    values.CARD_NUMBER = { value: digitsOf(input.value), error: field.check(input.value, true) };

    const errors = {};
    for (const name of new Set([...REQUIRED, ...mounted])) {
      const label = FIELDS[name].label.replace(/ \(.*\)$/, '').toLowerCase();
      if (!values[name]) {
        errors[name] = mounted.includes(name)
          ? `The ${label} field did not respond. Please try again.`
          : `The ${label} field is missing from this page.`;
      } else if (values[name].error) {
        errors[name] = values[name].error;
      }
    }
    if (Object.keys(errors).length > 0) return answer({ errors });

    const date = values.CARD_DATE.value;
    const card = {
      number: values.CARD_NUMBER.value,
      exp_month: date.slice(0, 2),
      exp_year: `20${date.slice(2, 4)}`,
      cvv: values.CARD_CVV.value,
    };
    if (values.CARD_POSTAL_CODE) card.address_zip = values.CARD_POSTAL_CODE.value;
    try {
      const response = await fetch('/v1/tokens', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', apikey: apiAccessKey },
        body: JSON.stringify({ card }),
      });
      const body = await response.json().catch(() => null);
      if (response.ok && typeof body?.id === 'string') return answer({ token: body.id });
      answer({ errors: tokenErrors(response.status, body) });
    } catch {
      answer({ errors: { CARD_NUMBER: 'The payment service could not be reached. Please try again.' } });
    }
  }

  /** The token host's error, put on the field it concerns. */
  function tokenErrors(status, body) {
    const param = String(body?.error?.param ?? '');
    const fieldOf = {
      'card.exp_month': 'CARD_DATE',
      'card.exp_year': 'CARD_DATE',
      'card.cvv': 'CARD_CVV',
      'card.address_zip': 'CARD_POSTAL_CODE',
    };
    if (status === 401) return { CARD_NUMBER: 'This payment form is not set up correctly (its key was refused).' };
    if (status === 429) return { CARD_NUMBER: 'Too many attempts. Please wait a moment and try again.' };
    const message = body?.error?.message ?? body?.message ?? 'The card could not be checked. Please try again.';
    return { [fieldOf[param] ?? 'CARD_NUMBER']: message };
  }

  window.parent.postMessage({ type: 'clover:ready' }, '*');
})();
