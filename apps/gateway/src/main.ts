import * as Sluice from "./Sluice.ts"

Sluice.main()
