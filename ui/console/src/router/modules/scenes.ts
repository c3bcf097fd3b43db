import type { RouteRecordRaw } from 'vue-router';

export default [
  {
    path: 'scenes',
    name: 'scenes',
    component: () => import('@/views/scenes/index.vue'),
    meta: { title: 'menu.scenes', icon: 'Operation', perms: ['scenes:read'] },
  },
  {
    path: 'scenes/new',
    name: 'scene-create',
    component: () => import('@/views/scenes/edit.vue'),
    meta: { title: 'menu.sceneCreate', perms: ['scenes:write'], hidden: true, activeMenu: '/scenes' },
  },
  {
    path: 'scenes/:code',
    name: 'scene-edit',
    component: () => import('@/views/scenes/edit.vue'),
    meta: { title: 'menu.sceneEdit', perms: ['scenes:read'], hidden: true, activeMenu: '/scenes' },
  },
  {
    path: 'fallback',
    name: 'fallback',
    component: () => import('@/views/fallback/index.vue'),
    meta: { title: 'menu.fallback', icon: 'Switch', perms: ['scenes:read'] },
  },
  {
    path: 'engines',
    name: 'engines',
    component: () => import('@/views/engines/index.vue'),
    meta: { title: 'menu.engines', icon: 'Cpu', perms: ['engines:read'] },
  },
] satisfies RouteRecordRaw[];
