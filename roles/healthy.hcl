# healthy: wait until each service of local.waiting_for is healthy, one
# after the other. Included by provision, bluegreen_provision,
# bluegreen_deploy and bluegreen_switchback, with:
#
#   waiting_for  the services, e.g. local.services

serial "replica" {
  for_each = local.waiting_for

  task "wait_healthy" "healthy" {
    file    = local.compose
    project = var.project
    service = each.value
    timeout = var.health_timeout
  }
}
