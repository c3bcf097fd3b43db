import type { RouteRecordRaw } from 'vue-router';

export default [
  {
    path: 'records',
    name: 'records',
    component: () => import('@/views/records/index.vue'),
    meta: { title: 'menu.records', icon: 'Document', perms: ['records:read'] },
  },
  {
    path: 'records/:id',
    name: 'record-detail',
    component: () => import('@/views/records/detail.vue'),
    meta: { title: 'menu.recordDetail', perms: ['records:read'], hidden: true, activeMenu: '/records' },
  },
] satisfies RouteRecordRaw[];
