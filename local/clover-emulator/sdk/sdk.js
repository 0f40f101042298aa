/*
 * The emulator's hosted-iframe SDK: the part of Clover's sdk.js (clover-api.md §11.1) a storefront
 * uses, served at /sdk.js.
 *
 *   const clover = new Clover(apiAccessKey, { merchantId });
 *   const cardNumber = clover.elements().create('CARD_NUMBER', styles);
 *   cardNumber.mount('#card-number');
 *   cardNumber.addEventListener('change', (event) => show(event.CARD_NUMBER.error));
 *   const result = await clover.createToken(); // { token: 'clv_…' } or { errors: { CARD_CVV: '…' } }
 *
 * This file runs in the merchant's page. Each element is an iframe served from this script's own
 * origin, so the page can never read what the shopper types. The fields talk to each other on a
 * BroadcastChannel that only their origin can join (see field.js); the CARD_NUMBER frame calls
 * /v1/tokens. The page receives per-field { error, touched } states and { token } | { errors },
 * never card data.
 */
(() => {
  const script = document.currentScript;
  const ORIGIN = new URL(script ? script.src : location.href).origin;
  const FIELDS = {
    CARD_NUMBER: 'Secure card number field',
    CARD_DATE: 'Secure expiration date field',
    CARD_CVV: 'Secure security code field',
    CARD_POSTAL_CODE: 'Secure ZIP or postal code field',
  };
  const TOKEN_TIMEOUT_MS = 30_000;

  function randomId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  class CloverElement {
    constructor(clover, type, styles) {
      this.type = type;
      this._clover = clover;
      this._styles = styles && typeof styles === 'object' ? styles : {};
      this._listeners = { change: new Set(), blur: new Set(), focus: new Set() };
      this._iframe = null;
      this.ready = new Promise((resolve) => {
        this._resolveReady = resolve;
      });
    }

    /** Mounts the field's iframe into the element matching `selector` (a CSS selector string). */
    mount(selector) {
      if (typeof selector !== 'string') throw new TypeError('Clover: mount() takes a CSS selector string.');
      const container = document.querySelector(selector);
      if (!container) throw new Error(`Clover: no element matches "${selector}".`);
      const iframe = document.createElement('iframe');
      iframe.src = `${ORIGIN}/elements/${this.type}`;
      iframe.title = FIELDS[this.type];
      iframe.name = `clover-${this.type.toLowerCase()}`;
      iframe.setAttribute('scrolling', 'no');
      iframe.setAttribute('allowtransparency', 'true');
      const sized = container.getBoundingClientRect().height > 0;
      iframe.style.cssText = `display:block;width:100%;height:${sized ? '100%' : '2.75em'};border:0;background:transparent;`;
      this._iframe = iframe;
      container.appendChild(iframe);
      return this;
    }

    addEventListener(name, listener) {
      this._listeners[name]?.add(listener);
    }

    removeEventListener(name, listener) {
      this._listeners[name]?.delete(listener);
    }

    _post(message) {
      this._iframe?.contentWindow?.postMessage(message, ORIGIN);
    }

    /** The frame has loaded: tell it who it is. Only the card number frame gets the key. */
    _init() {
      const c = this._clover;
      this._post({
        type: 'clover:init',
        channel: c._channel,
        styles: this._styles,
        locale: c._locale,
        ...(this.type === 'CARD_NUMBER' ? { apiAccessKey: c._apiAccessKey, merchantId: c._merchantId } : {}),
      });
      this._resolveReady();
    }

    _emit(name, event) {
      for (const listener of this._listeners[name] ?? []) {
        try {
          listener(event);
        } catch (e) {
          setTimeout(() => {
            throw e;
          });
        }
      }
    }
  }

  class CloverElements {
    constructor(clover) {
      this._clover = clover;
    }

    create(type, styles) {
      if (!Object.hasOwn(FIELDS, type)) throw new Error(`Clover: unknown element type "${type}".`);
      if (this._clover._elements.has(type)) throw new Error(`Clover: ${type} was already created.`);
      const element = new CloverElement(this._clover, type, styles);
      this._clover._elements.set(type, element);
      this._clover._states[type] = { touched: false };
      return element;
    }
  }

  class Clover {
    constructor(apiAccessKey, options = {}) {
      if (typeof apiAccessKey !== 'string' || apiAccessKey === '')
        throw new Error('Clover: an API access key is required.');
      if (!options.merchantId) throw new Error('Clover: options.merchantId is required.');
      this._apiAccessKey = apiAccessKey;
      this._merchantId = options.merchantId;
      this._locale = options.locale || 'en-US';
      this._channel = `clover-elements-${randomId()}`;
      this._elements = new Map();
      this._states = {};
      this._pending = new Map();
      this._seq = 0;
      window.addEventListener('message', (event) => this._onMessage(event));
    }

    elements() {
      this._elementsApi ??= new CloverElements(this);
      return this._elementsApi;
    }

    /** Resolves to { token } or { errors: { FIELD: message } }; never rejects. */
    async createToken() {
      const number = this._elements.get('CARD_NUMBER');
      if (!number?._iframe) return { errors: { CARD_NUMBER: 'The card number field is missing.' } };
      const id = ++this._seq;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          this._pending.delete(id);
          resolve({ errors: { CARD_NUMBER: 'The payment form did not answer. Please try again.' } });
        }, TOKEN_TIMEOUT_MS);
        this._pending.set(id, (result) => {
          clearTimeout(timer);
          resolve(result);
        });
        const elements = [...this._elements.values()].filter((el) => el._iframe).map((el) => el.type);
        number.ready.then(() => number._post({ type: 'clover:createToken', id, elements }));
      });
    }

    _onMessage(event) {
      if (event.origin !== ORIGIN) return;
      const element = [...this._elements.values()].find(
        (el) => el._iframe && el._iframe.contentWindow === event.source,
      );
      const message = event.data;
      if (!element || !message || typeof message !== 'object') return;
      if (message.type === 'clover:ready') {
        element._init();
      } else if (message.type === 'clover:event' && Object.hasOwn(element._listeners, message.event)) {
        const state = { touched: Boolean(message.state?.touched) };
        if (typeof message.state?.error === 'string') state.error = message.state.error;
        this._states[element.type] = state;
        element._emit(message.event, structuredClone(this._states));
      } else if (message.type === 'clover:token' && element.type === 'CARD_NUMBER') {
        const settle = this._pending.get(message.id);
        this._pending.delete(message.id);
        settle?.(sanitizeResult(message.result));
      }
    }
  }

  /** Only a token or field messages cross into the page, whatever the frame sent. */
  function sanitizeResult(result) {
    if (typeof result?.token === 'string') return { token: result.token };
    const errors = {};
    for (const [field, message] of Object.entries(result?.errors ?? {})) {
      if (typeof message === 'string') errors[field] = message;
    }
    return { errors };
  }

  window.Clover = Clover;
})();
