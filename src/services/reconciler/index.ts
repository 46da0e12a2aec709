/** The reconciler: a scheduler of small named jobs (each job lives beside its feature) that repair what webhooks missed. */
export * from './reconcile-job';
export * from './reconciler.service';
