# replace: take a batch of replicas out of service, recreate them from the
# compose file (in one Compose call), wait until each is healthy (and stays
# so for local.monitor), and put them back. Included by the rollout role,
# for its batches and for their rollback, with these vars:
#
#   batch    the services to recreate, e.g. ["app_1", "app_2"]
#   down     the services drained meanwhile (the batch, or more)
#   after    the services still drained afterwards (usually [])
#   monitor  how long a new replica must stay healthy, e.g. "0s"

task "template" "drain" {
  src  = "../templates/nginx.conf.tmpl"
  dest = local.conf
  vars = { down = local.down }
}
task "proxy_reload" "drain" {
  file    = local.compose
  project = var.project
  conf    = local.conf
}

# A container left over by a killed run is removed first.
task "compose_recreate" "recreate" {
  file     = local.compose
  project  = var.project
  services = local.batch
}

block "healthy" {
  for_each = local.batch
  parallel = true

  task "wait_healthy" "healthy" {
    file    = local.compose
    project = var.project
    service = each.value
    timeout = var.health_timeout
    monitor = local.monitor
  }
}

task "template" "undrain" {
  src  = "../templates/nginx.conf.tmpl"
  dest = local.conf
  vars = { down = local.after }
}
# Takes no server out: the next drain waits for the old workers instead.
task "proxy_reload" "undrain" {
  file             = local.compose
  project          = var.project
  conf             = local.conf
  wait_old_workers = false
}
