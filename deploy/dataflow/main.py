"""FLEX_TEMPLATE_PYTHON_PY_FILE: the template launcher runs this file with the job's
parameters as flags; the pipeline itself is the installed newsbeam package."""

from newsbeam.pipeline.run.launch import main

if __name__ == "__main__":
    main()
