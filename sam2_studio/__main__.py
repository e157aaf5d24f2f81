from sam2_studio.main import main

raise SystemExit(main())
