# healthy: wait until each service of local.waiting_for is healthy, one
# after the other. Included by bluegreen_switch (its gate),
# bluegreen_provision and bluegreen_deploy, with:
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
