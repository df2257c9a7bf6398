# retire_surge: the compose file without surge replicas, and the containers
# it no longer lists removed (a start-first rollout's surge, even one left by
# an interrupted run). Included by the rollout role after in_service has
# taken the surge out of the proxy, with this var:
#
#   rendered_at  the release the compose file is rendered at

task "template" "compose file without surge" {
  src  = "../templates/docker-compose.yml.tmpl"
  dest = local.compose
  vars = { version = local.rendered_at, surge = [] }
}

task "compose_remove" "surge" {
  file    = local.compose
  project = var.project
  orphans = true
}
