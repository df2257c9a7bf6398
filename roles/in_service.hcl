# in_service: every replica in the nginx upstream, none drained and no surge
# replica, and nginx reloaded if that changed its conf. Included by the
# rollout role, at its end and after a rollback.

task "template" "all replicas in service" {
  src  = "../templates/nginx.conf.tmpl"
  dest = local.conf
  vars = { down = [], surge = [] }
}
task "proxy_reload" "all replicas in service" {
  file    = local.compose
  project = var.project
  conf    = local.conf
}
