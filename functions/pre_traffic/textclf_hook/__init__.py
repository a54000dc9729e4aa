"""The pre-traffic hook function's package: CodeDeploy invokes :func:`textclf_hook.main.handler`
before the API's ``live`` alias shifts to a new version; :mod:`textclf_hook.check` invokes that
version and decides."""
