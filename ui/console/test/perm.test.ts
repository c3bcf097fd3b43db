// v-perm: a control the user may not use is not in the page at all.
import { describe, expect, it } from 'vitest';
import { defineComponent, h, withDirectives } from 'vue';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { createPermDirective } from '../src/directives/perm';
import { useAuthStore } from '../src/stores/auth';

const Toolbar = defineComponent({
  props: { perm: { type: [String, Array], required: true } },
  setup(props, { attrs }) {
    const vPerm = attrs.directive as ReturnType<typeof createPermDirective>;
    return () =>
      h('div', { class: 'bar' }, [
        h('button', { class: 'always' }, 'refresh'),
        withDirectives(h('button', { class: 'guarded' }, 'create'), [[vPerm, props.perm]]),
      ]);
  },
});

function render(perms: string[], perm: string | string[]) {
  setActivePinia(createPinia());
  const auth = useAuthStore();
  auth.set({ id: 'u', username: 'u', tenant: { id: 't', code: 't', name: 't' }, roles: [], permissions: perms }, 'csrf');
  const directive = createPermDirective((p) => auth.can(p));
  return mount(Toolbar, { props: { perm }, attrs: { directive } });
}

describe('v-perm', () => {
  it('keeps a button the user has the permission for', () => {
    const w = render(['scenes:read', 'scenes:write'], 'scenes:write');
    expect(w.find('.guarded').exists()).toBe(true);
  });

  it('removes a button the user lacks the permission for', () => {
    const w = render(['scenes:read'], 'scenes:write');
    expect(w.find('.guarded').exists()).toBe(false);
    expect(w.find('.always').exists()).toBe(true);
  });

  it('takes a list: any one of them is enough', () => {
    expect(render(['records:export'], ['records:export', 'system:write']).find('.guarded').exists()).toBe(true);
    expect(render(['records:read'], ['records:export', 'system:write']).find('.guarded').exists()).toBe(false);
  });

  it('refuses an empty permission (a typo would otherwise show the button to everyone)', () => {
    expect(() => render(['scenes:write'], [])).toThrow(/v-perm needs a permission/);
  });
});

describe('the auth store', () => {
  it('allows a page with no permissions asked and checks any-of otherwise', () => {
    setActivePinia(createPinia());
    const auth = useAuthStore();
    expect(auth.can('records:read')).toBe(false);
    auth.set({ id: 'u', username: 'u', tenant: { id: 't', code: 't', name: 't' }, roles: ['auditor'], permissions: ['records:read'], csrf_token: 'c1' });
    expect(auth.csrf).toBe('c1');
    expect(auth.can(undefined)).toBe(true);
    expect(auth.can([])).toBe(true);
    expect(auth.can(['audit:read', 'records:read'])).toBe(true);
    expect(auth.can('records:export')).toBe(false);
    auth.clear();
    expect([auth.me, auth.csrf, auth.can('records:read')]).toEqual([null, null, false]);
  });
});
