# The seed-002 deployment: compose.hcl over the demo stack
# (demo.compose.yaml): one compose service per replica (app_1..app_N)
# behind an nginx proxy on 127.0.0.1:PORT, with a redis db. Every variable
# of compose.hcl works here, with the demo's defaults below (the file gives
# version 0.0.1); demo.vars.hcl adds the demo's image and limits.
#
#   zdplay run playbooks/app.hcl -t provision
#   zdplay run playbooks/app.hcl -t upgrade -e version=0.0.2
#   zdplay run playbooks/app.hcl -t upgrade -e version=0.0.2 -e order=start-first
#   zdplay run playbooks/app.hcl -t rollback
#   zdplay run playbooks/app.hcl -t teardown
#
# Every role first takes a lock on DIR/.zdplay.lock: a second run on the same
# deployment is refused at once, naming the run that holds it.
import = ["compose.hcl", "demo.vars.hcl"]

defaults = {
  compose     = "${path.playbook}/demo.compose.yaml"
  service     = "app"
  health_path = "/ping"
  proxy       = "nginx"
  project     = "zdplay-demo"
  replicas    = 2
}

locals {
  # demo.compose.yaml's ${NAME}s, from the demo's variables.
  env = { IMAGE = var.image, APP_MEMORY = var.app_memory, APP_CPUS = var.app_cpus, DB_IMAGE = var.db_image, DB_MEMORY = var.db_memory }
}
