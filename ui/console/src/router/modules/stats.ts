import type { RouteRecordRaw } from 'vue-router';

export default [
  {
    path: 'stats',
    name: 'stats',
    component: () => import('@/views/stats/index.vue'),
    meta: { title: 'menu.stats', icon: 'TrendCharts', perms: ['stats:read'] },
  },
] satisfies RouteRecordRaw[];
